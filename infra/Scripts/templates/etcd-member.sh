#!/usr/bin/env bash
# Writes this member's configuration. A member the running cluster does not know yet (added
# after creation, or a replaced node) is announced first (`etcdctl member add`) and starts as
# "existing"; members created with the cluster all start as "new", together. Leaves
# "$CONFIG.restart" when a running member must restart to take the new configuration.
set -euo pipefail

NODE_NAME={{NODE_NAME}}
NODE_IP={{NODE_IP}}
CLIENT_ENDPOINTS={{CLIENT_ENDPOINTS}}
PKI_DIR={{PKI_DIR}}
DATA_DIR={{DATA_DIR}}
CONFIG={{CONFIG}}
ETCDCTL={{ETCDCTL}}

etcdctl() {
  ETCDCTL_API=3 timeout 20 "$ETCDCTL" --endpoints "$CLIENT_ENDPOINTS" --dial-timeout 3s \
    --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/member.crt" --key "$PKI_DIR/member.key" "$@"
}

mkdir -p "$(dirname "$CONFIG")" "$DATA_DIR"
chmod 0700 "$DATA_DIR"
cat > "$CONFIG.new" <<'YAML'
{{ETCD_CONFIG}}
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
