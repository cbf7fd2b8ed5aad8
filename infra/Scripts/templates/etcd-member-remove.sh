#!/usr/bin/env bash
# Takes this member out of the etcd cluster before its droplet goes, then stops it. Tolerates a
# member or cluster that is already gone: removal must never block `pulumi destroy`.
set -euo pipefail

NODE_IP={{NODE_IP}}
CLIENT_ENDPOINTS={{CLIENT_ENDPOINTS}}
PKI_DIR={{PKI_DIR}}
DATA_DIR={{DATA_DIR}}

ETCDCTL=$(command -v etcdctl || echo /usr/local/bin/etcdctl)
etcdctl() {
  ETCDCTL_API=3 timeout 20 "$ETCDCTL" --endpoints "$CLIENT_ENDPOINTS" --dial-timeout 3s \
    --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/member.crt" --key "$PKI_DIR/member.key" "$@"
}

if [ -x "$ETCDCTL" ] && [ -f "$PKI_DIR/member.crt" ]; then
  id=$(etcdctl member list 2>/dev/null | awk -F', ' -v url="https://${NODE_IP}:2380" '$4 == url { print $1 }' || true)
  if [ -z "$id" ]; then
    echo "etcd member at $NODE_IP is not in the cluster (or no quorum answered); nothing to remove"
  else
    # etcd refuses a removal while its members have not all been connected for a few seconds
    # ("unhealthy cluster"): that passes, so try again for a while.
    for attempt in 1 2 3 4 5 6 7 8; do
      if error=$(etcdctl member remove "$id" 2>&1 >/dev/null); then
        echo "removed etcd member $id ($NODE_IP)"
        break
      fi
      # An earlier attempt that timed out on this side may have gone through on the cluster's.
      if grep -q "member not found" <<<"$error"; then
        echo "removed etcd member $id ($NODE_IP); it was already gone on a retry"
        break
      fi
      if [ "$attempt" -eq 8 ]; then
        echo "warning: could not remove etcd member $id ($NODE_IP): ${error##*Error: }. Remove it with 'etcdctl member remove $id' from a surviving member" >&2
      else
        sleep 4
      fi
    done
  fi
fi
if command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now etcd >/dev/null 2>&1 || true
fi
rm -rf "$DATA_DIR"
