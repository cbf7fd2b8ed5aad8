#!/usr/bin/env bash
# The health gate's report of etcd's newest snapshot: every etcd node records the time of each
# snapshot it keeps under RECORD_PREFIX in etcd (etcd-snapshot.sh). Fails when the newest is
# older than MAX_AGE_HOURS (twice the schedule), or when none was ever recorded.
set -euo pipefail

CLIENT_ENDPOINTS={{CLIENT_ENDPOINTS}}
CA_FILE={{CA_FILE}}
CERT_FILE={{CERT_FILE}}
KEY_FILE={{KEY_FILE}}
RECORD_PREFIX={{RECORD_PREFIX}}
MAX_AGE_HOURS={{MAX_AGE_HOURS}}

# etcd's JSON gateway (enable-grpc-gateway): a range read of every key under the prefix, keys
# and values base64 (etcd api/etcdserverpb/rpc.proto, RangeRequest; range_end is the prefix with
# its last byte raised by one).
b64() { printf '%s' "$1" | base64 -w0; }
request="{\"key\":\"$(b64 "$RECORD_PREFIX")\",\"range_end\":\"$(b64 "${RECORD_PREFIX%/}0")\"}"
body=""
IFS=',' read -r -a endpoints <<<"$CLIENT_ENDPOINTS"
for endpoint in "${endpoints[@]}"; do
  if body=$(curl -sS --max-time 5 --cacert "$CA_FILE" --cert "$CERT_FILE" --key "$KEY_FILE" -X POST -d "$request" "$endpoint/v3/kv/range" 2>/dev/null); then
    break
  fi
  body=""
done
[ -n "$body" ] || { echo "etcd snapshots: no etcd member answered at $CLIENT_ENDPOINTS" >&2; exit 1; }

newest=$(jq -r '[.kvs[]? | .value | @base64d | tonumber] | max // empty' <<<"$body")
if [ -z "$newest" ]; then
  echo "etcd snapshots: none has been taken. Look: 'systemctl status etcd-snapshot.service' on an etcd node (docs/backups.md)" >&2
  exit 1
fi
age=$(($(date -u +%s) - newest))
echo "etcd snapshots: the newest is $((age / 60)) minutes old"
if [ "$age" -gt $((MAX_AGE_HOURS * 3600)) ]; then
  echo "etcd snapshots: the newest is older than ${MAX_AGE_HOURS} h. Look: 'systemctl list-timers etcd-snapshot.timer' and 'journalctl -u etcd-snapshot.service' on each etcd node (docs/backups.md)" >&2
  exit 1
fi
