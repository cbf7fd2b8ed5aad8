#!/usr/bin/env bash
# Takes the member at NODE_IP out of the etcd cluster before its droplet goes. Runs on another
# etcd member, with that member's client certificate, so a member whose node is dead or already
# gone leaves as cleanly as a live one (a live member shuts itself down once removed). Tolerates
# a member or cluster that is already gone: removal must never block `pulumi destroy`.
set -euo pipefail

NODE_IP={{NODE_IP}}
CLIENT_ENDPOINTS={{CLIENT_ENDPOINTS}}
PKI_DIR={{PKI_DIR}}

ETCDCTL=$(command -v etcdctl || echo /usr/local/bin/etcdctl)
etcdctl() {
  ETCDCTL_API=3 timeout 20 "$ETCDCTL" --endpoints "$CLIENT_ENDPOINTS" --dial-timeout 3s \
    --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/member.crt" --key "$PKI_DIR/member.key" "$@"
}

{{MEMBER_CHANGE}}

if [ ! -x "$ETCDCTL" ] || [ ! -f "$PKI_DIR/member.crt" ]; then
  echo "warning: no etcdctl or etcd client certificate here: remove the member at $NODE_IP with 'etcdctl member remove <id>' from a surviving member" >&2
  exit 0
fi
id=$(etcdctl member list 2>/dev/null | awk -F', ' -v url="https://${NODE_IP}:{{ETCD_PEER_PORT}}" '$4 == url { print $1 }' || true)
if [ -z "$id" ]; then
  echo "etcd member at $NODE_IP is not in the cluster (or no quorum answered); nothing to remove"
elif etcd_member remove "$id"; then
  echo "removed etcd member $id ($NODE_IP)"
else
  echo "warning: could not remove etcd member $id ($NODE_IP). Remove it with 'etcdctl member remove $id' from a surviving member" >&2
fi
