#!/usr/bin/env bash
# Takes the member at NODE_IP out of the etcd cluster before its droplet goes. Runs on another
# etcd member, with that member's client certificate, so a member whose node is dead or already
# gone leaves as cleanly as a live one (a live member shuts itself down once removed). Tolerates
# a member or cluster that is already gone: removal must never block `pulumi destroy`.
set -euo pipefail

NODE_IP='10.240.0.4'
CLIENT_ENDPOINTS='https://10.240.0.2:2379,https://10.240.0.3:2379,https://10.240.0.4:2379'
PKI_DIR='/etc/etcd/pki'

ETCDCTL=$(command -v etcdctl || echo /usr/local/bin/etcdctl)
etcdctl() {
  ETCDCTL_API=3 timeout 20 "$ETCDCTL" --endpoints "$CLIENT_ENDPOINTS" --dial-timeout 3s \
    --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/member.crt" --key "$PKI_DIR/member.key" "$@"
}

# etcd refuses a membership change until its members have all been connected for a few seconds
# ("unhealthy cluster"), as right after another change: that passes, so try again for a while.
etcd_member() { # etcdctl member arguments: add or remove; says why and fails if etcd keeps refusing
  local attempt error
  for attempt in 1 2 3 4 5 6 7 8; do
    if error=$(etcdctl member "$@" 2>&1 >/dev/null); then
      return 0
    fi
    # An earlier attempt that timed out on this side may have gone through on the cluster's.
    if grep -qE "member not found|Peer URLs already exists" <<<"$error"; then
      return 0
    fi
    [ "$attempt" -eq 8 ] || sleep 4
  done
  echo "etcdctl member $*: ${error##*Error: }" >&2
  return 1
}

if [ ! -x "$ETCDCTL" ] || [ ! -f "$PKI_DIR/member.crt" ]; then
  echo "warning: no etcdctl or etcd client certificate here: remove the member at $NODE_IP with 'etcdctl member remove <id>' from a surviving member" >&2
  exit 0
fi
id=$(etcdctl member list 2>/dev/null | awk -F', ' -v url="https://${NODE_IP}:2380" '$4 == url { print $1 }' || true)
if [ -z "$id" ]; then
  echo "etcd member at $NODE_IP is not in the cluster (or no quorum answered); nothing to remove"
elif etcd_member remove "$id"; then
  echo "removed etcd member $id ($NODE_IP)"
else
  echo "warning: could not remove etcd member $id ($NODE_IP). Remove it with 'etcdctl member remove $id' from a surviving member" >&2
fi
