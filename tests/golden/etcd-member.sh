#!/usr/bin/env bash
# Writes this member's configuration. A member the running cluster does not know yet (added
# after creation, or a replaced node) is announced first (`etcdctl member add`) and joins it as
# "existing"; members created with the cluster all start as "new", together. A replaced node's
# old member (same name, old address) is removed first: dead, it would still count towards the
# quorum, and etcd would refuse the new one. Leaves "$CONFIG.restart" when a running member must
# restart to take the new configuration. With a snapshot to restore (config etcdRestoreFrom),
# members that start a new cluster start it from the snapshot instead of empty.
set -euo pipefail

NODE_NAME='node1'
NODE_IP='10.240.0.2'
CLIENT_ENDPOINTS='https://10.240.0.2:2379,https://10.240.0.3:2379,https://10.240.0.4:2379'
PKI_DIR='/etc/etcd/pki'
DATA_DIR='/var/lib/etcd'
CONFIG='/etc/etcd/etcd.conf.yml'
ETCDCTL='/usr/local/bin/etcdctl'
# A snapshot file on this node; empty: a new cluster starts empty.
RESTORE_SNAPSHOT=''

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

# etcd runs as its own user (etcd-service.sh): it owns its data and its key, and nothing else.
ensure_etcd_user() {
  if ! id -u etcd >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/etcd --no-create-home --shell /usr/sbin/nologin etcd
  fi
}

ensure_etcd_user
# etcd (User=etcd) reads its configuration: the folder is open to it, the file is its group's.
install -d -m 0755 "$(dirname "$CONFIG")"
install -d -o etcd -g etcd -m 0700 "$DATA_DIR"
# Data written by a root etcd (an earlier version of this program) becomes etcd's.
chown -R etcd:etcd "$DATA_DIR"
cat > "$CONFIG.new" <<'YAML'
# do-k8s-ha: configuration of etcd member node1.
name: node1
data-dir: /var/lib/etcd
listen-peer-urls: https://10.240.0.2:2380
listen-client-urls: https://10.240.0.2:2379,https://127.0.0.1:2379
initial-advertise-peer-urls: https://10.240.0.2:2380
advertise-client-urls: https://10.240.0.2:2379
initial-cluster: node1=https://10.240.0.2:2380,node2=https://10.240.0.3:2380,node3=https://10.240.0.4:2380
initial-cluster-token: k8s-dev-etcd
initial-cluster-state: new
client-transport-security:
  cert-file: /etc/etcd/pki/member.crt
  key-file: /etc/etcd/pki/member.key
  trusted-ca-file: /etc/etcd/pki/ca.crt
  client-cert-auth: true
peer-transport-security:
  cert-file: /etc/etcd/pki/member.crt
  key-file: /etc/etcd/pki/member.key
  trusted-ca-file: /etc/etcd/pki/ca.crt
  client-cert-auth: true
  # Peers are members: the API server's client certificate, from the same CA, is refused here.
  allowed-cn: [etcd-member]
# The JSON gateway (/v3/...) lets control-plane nodes read etcd with curl. Set it: a config
# file leaves unset booleans false, unlike the command-line defaults.
enable-grpc-gateway: true
# Kubernetes compacts on its own; this bounds history if the API servers are down for long.
auto-compaction-mode: periodic
auto-compaction-retention: "8"
YAML
chown root:etcd "$CONFIG.new"
chmod 0640 "$CONFIG.new"

PEER_URL="https://${NODE_IP}:2380"
if [ ! -d "$DATA_DIR/member" ]; then
  # No answer means no cluster runs yet: this member is one of those that start it.
  members=$(etcdctl member list 2>/dev/null || true)
  if [ -n "$members" ]; then
    # This node's old member: one of its name at another address, or at this address one that has
    # run (its client URLs published) while this node has no data, a droplet made anew at the old
    # address. Rejoining under the old member's ID with empty data is what etcd's runtime
    # reconfiguration guide forbids: remove it, then add a new one. A member announced on an
    # earlier run of this step, or one a restore made, has not run: it is this node's.
    while read -r stale; do
      etcd_member remove "$stale"
      echo "removed etcd member $stale ($NODE_NAME's old member)"
      members=$(etcdctl member list)
    done < <(awk -F', ' -v name="$NODE_NAME" -v url="$PEER_URL" '$3 == name && ($4 != url || $5 != "") { print $1 }' <<<"$members")
    if ! awk -F', ' -v url="$PEER_URL" '$4 == url { found = 1 } END { exit !found }' <<<"$members"; then
      etcd_member add "$NODE_NAME" --peer-urls "$PEER_URL"
      echo "announced $NODE_NAME to the running etcd cluster"
    fi
    # Announced now or on an earlier run that failed later: the cluster runs, so join it, naming
    # its members as they are now. etcd refuses a member whose initial-cluster differs in count
    # from the running cluster's, and the inventory can differ: a node removed in the same update
    # leaves only at its end, and others may be joining beside this one (not started: no name).
    initial=$(etcdctl member list | awk -F', ' -v self="$NODE_NAME" -v url="$PEER_URL" \
      '{ name = $4 == url ? self : ($3 == "" ? "joining-" NR : $3); printf "%s%s=%s", sep, name, $4; sep = "," }')
    sed -i -e 's/^initial-cluster-state: new$/initial-cluster-state: existing/' \
      -e "s#^initial-cluster: .*#initial-cluster: $initial#" "$CONFIG.new"
  elif [ -n "$RESTORE_SNAPSHOT" ]; then
    # Every member of the new cluster restores the same snapshot with the cluster's membership
    # (etcd's "Disaster recovery": snapshot restore with --name, --initial-cluster,
    # --initial-cluster-token and --initial-advertise-peer-urls), then starts on that data; the
    # restore checks the snapshot's own checksum first. etcd 3.6 has restore only in etcdutl
    # (CHANGELOG-3.6.md), which 3.5's release carries too; 3.4's has it in etcdctl.
    [ -f "$RESTORE_SNAPSHOT" ] || { echo "etcd: the snapshot to restore, $RESTORE_SNAPSHOT, is not on $NODE_NAME (README \"Backups and restore\")" >&2; exit 1; }
    restore_args=(snapshot restore "$RESTORE_SNAPSHOT" --name "$NODE_NAME" --data-dir "$DATA_DIR.restoring"
      --initial-cluster "$(sed -n 's/^initial-cluster: //p' "$CONFIG.new")"
      --initial-cluster-token "$(sed -n 's/^initial-cluster-token: //p' "$CONFIG.new")"
      --initial-advertise-peer-urls "$PEER_URL")
    rm -rf "$DATA_DIR.restoring"
    if [ -x "$(dirname "$ETCDCTL")/etcdutl" ]; then
      "$(dirname "$ETCDCTL")/etcdutl" "${restore_args[@]}" >/dev/null
    else
      ETCDCTL_API=3 "$ETCDCTL" "${restore_args[@]}" >/dev/null 2>&1
    fi
    # Into place whole: a restore stopped half-way leaves no data etcd would start on.
    chown -R etcd:etcd "$DATA_DIR.restoring"
    chmod 0700 "$DATA_DIR.restoring"
    mv "$DATA_DIR.restoring/member" "$DATA_DIR/member"
    rm -rf "$DATA_DIR.restoring"
    echo "restored $NODE_NAME's etcd member from $RESTORE_SNAPSHOT"
  fi
fi

# initial-* settings matter only at a member's first start: a change to them (another member
# joined the inventory) must not restart every member at once and cost the cluster its quorum.
if [ -f "$CONFIG" ] && ! diff -q <(grep -v '^initial-' "$CONFIG") <(grep -v '^initial-' "$CONFIG.new") >/dev/null; then
  touch "$CONFIG.restart"
fi
mv "$CONFIG.new" "$CONFIG"
echo "configured etcd member $NODE_NAME ($NODE_IP)"
