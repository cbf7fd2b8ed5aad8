#!/usr/bin/env bash
# Writes this member's configuration. A member the running cluster does not know yet (added
# after creation, or a replaced node) is announced first (`etcdctl member add`) and starts as
# "existing"; members created with the cluster all start as "new", together. Leaves
# "$CONFIG.restart" when a running member must restart to take the new configuration.
set -euo pipefail

NODE_NAME='node1'
NODE_IP='10.240.0.2'
CLIENT_ENDPOINTS='https://10.240.0.2:2379,https://10.240.0.3:2379,https://10.240.0.4:2379'
PKI_DIR='/etc/etcd/pki'
DATA_DIR='/var/lib/etcd'
CONFIG='/etc/etcd/etcd.conf.yml'
ETCDCTL='/usr/local/bin/etcdctl'

etcdctl() {
  ETCDCTL_API=3 timeout 20 "$ETCDCTL" --endpoints "$CLIENT_ENDPOINTS" --dial-timeout 3s \
    --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/member.crt" --key "$PKI_DIR/member.key" "$@"
}

mkdir -p "$(dirname "$CONFIG")" "$DATA_DIR"
chmod 0700 "$DATA_DIR"
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
# The JSON gateway (/v3/...) lets control-plane nodes read etcd with curl. Set it: a config
# file leaves unset booleans false, unlike the command-line defaults.
enable-grpc-gateway: true
# Kubernetes compacts on its own; this bounds history if the API servers are down for long.
auto-compaction-mode: periodic
auto-compaction-retention: "8"
YAML

if [ ! -d "$DATA_DIR/member" ]; then
  members=$(etcdctl member list 2>/dev/null || true)
  if [ -n "$members" ] && ! grep -q "https://${NODE_IP}:2380" <<<"$members"; then
    etcdctl member add "$NODE_NAME" --peer-urls "https://${NODE_IP}:2380" >/dev/null
    sed -i 's/^initial-cluster-state: new$/initial-cluster-state: existing/' "$CONFIG.new"
    echo "announced $NODE_NAME to the running etcd cluster"
  fi
fi

# initial-* settings matter only at a member's first start: a change to them (another member
# joined the inventory) must not restart every member at once and cost the cluster its quorum.
if [ -f "$CONFIG" ] && ! diff -q <(grep -v '^initial-' "$CONFIG") <(grep -v '^initial-' "$CONFIG.new") >/dev/null; then
  touch "$CONFIG.restart"
fi
mv "$CONFIG.new" "$CONFIG"
echo "configured etcd member $NODE_NAME ($NODE_IP)"
