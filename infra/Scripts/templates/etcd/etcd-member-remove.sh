#!/usr/bin/env bash
# Takes the member at NODE_IP out of the etcd cluster before its droplet goes. Runs on another
# etcd member, with that member's client certificate, so a member whose node is dead or already
# gone leaves as cleanly as a live one (a live member shuts itself down once removed). A member
# already gone is fine; a removal that fails stops the update: the member would stay, never
# answering, and lower the quorum's margin. (`pulumi destroy` skips this step, and when etcd
# itself is lost the runbooks disarm it: lostNodes.) A removal changes etcd's membership: this
# member takes a before-change snapshot first, and a member that cannot stops the removal
# before anything changes (a replaced droplet's member leaves before the update registers its
# successor, so no other step could take it).
set -euo pipefail

NODE_IP={{NODE_IP}}
CLIENT_ENDPOINTS={{CLIENT_ENDPOINTS}}
PKI_DIR={{PKI_DIR}}
SNAPSHOT_TOOL={{SNAPSHOT_TOOL}}

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
if ! members=$(etcdctl member list 2>&1); then
  echo "no etcd member answered ($CLIENT_ENDPOINTS): the member at $NODE_IP is not removed. ${members##*Error: }. If etcd's quorum is lost, docs/backups.md \"Quorum lost\" says how on (lostNodes)" >&2
  exit 1
fi
id=$(awk -F', ' -v url="https://${NODE_IP}:{{ETCD_PEER_PORT}}" '$4 == url { print $1 }' <<<"$members")
if [ -z "$id" ]; then
  echo "etcd member at $NODE_IP is not in the cluster; nothing to remove"
elif [ -x "$SNAPSHOT_TOOL" ] && ! "$SNAPSHOT_TOOL" before-change; then
  echo "no snapshot before removing etcd member $id ($NODE_IP): it is not removed, and nothing is changed. Look: 'systemctl status etcd' on this member, then run 'pulumi up' again" >&2
  exit 1
elif etcd_member remove "$id"; then
  echo "removed etcd member $id ($NODE_IP)"
else
  echo "could not remove etcd member $id ($NODE_IP): it would stay a member that never answers. See why etcd refused (above), or remove it with 'etcdctl member remove $id' from a surviving member, then run 'pulumi up' again" >&2
  exit 1
fi
