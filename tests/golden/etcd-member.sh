#!/usr/bin/env bash
# Installs and starts one etcd member as a systemd service (Kubespray's "host" deployment):
# a pinned, checksum-verified release binary and TLS between every peer and client.
set -euo pipefail

NODE_NAME='node1'
NODE_IP='10.240.0.2'
ETCD_VERSION='3.6.5'
ETCD_SHA256='66bad39ed920f6fc15fd74adcb8bfd38ba9a6412f8c7852d09eb11670e88cac3'
CLIENT_ENDPOINTS='https://10.240.0.2:2379,https://10.240.0.3:2379,https://10.240.0.4:2379'
PKI_DIR='/etc/etcd/pki'
DATA_DIR='/var/lib/etcd'
CONFIG=/etc/etcd/etcd.conf.yml

if ! /usr/local/bin/etcd --version 2>/dev/null | grep -q "^etcd Version: ${ETCD_VERSION}$"; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  curl -fsSL --retry 5 -o "$tmp/etcd.tar.gz" \
    "https://github.com/etcd-io/etcd/releases/download/v${ETCD_VERSION}/etcd-v${ETCD_VERSION}-linux-amd64.tar.gz"
  echo "${ETCD_SHA256}  $tmp/etcd.tar.gz" | sha256sum --check --quiet
  tar -xzf "$tmp/etcd.tar.gz" -C "$tmp" --strip-components=1
  install -m 0755 "$tmp/etcd" "$tmp/etcdctl" /usr/local/bin/
fi

mkdir -p /etc/etcd "$DATA_DIR"
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

# A member the running cluster does not know yet (one added after creation) is announced first
# and starts as "existing". Members created with the cluster all start as "new", together.
if [ ! -d "$DATA_DIR/member" ]; then
  members=$(ETCDCTL_API=3 timeout 15 /usr/local/bin/etcdctl --endpoints "$CLIENT_ENDPOINTS" \
    --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/member.crt" --key "$PKI_DIR/member.key" \
    --dial-timeout 3s member list 2>/dev/null || true)
  if [ -n "$members" ] && ! grep -q "https://${NODE_IP}:2380" <<<"$members"; then
    ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints "$CLIENT_ENDPOINTS" \
      --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/member.crt" --key "$PKI_DIR/member.key" \
      member add "$NODE_NAME" --peer-urls "https://${NODE_IP}:2380" >/dev/null
    sed -i 's/^initial-cluster-state: new$/initial-cluster-state: existing/' "$CONFIG.new"
    echo "announced $NODE_NAME to the running etcd cluster"
  fi
fi

# initial-* settings matter only at a member's first start: a change to them (another member
# joined the inventory) must not restart every member at once and cost the cluster its quorum.
changed=true
if [ -f "$CONFIG" ] && diff -q <(grep -v '^initial-' "$CONFIG") <(grep -v '^initial-' "$CONFIG.new") >/dev/null; then
  changed=false
fi
mv "$CONFIG.new" "$CONFIG"

cat > /etc/systemd/system/etcd.service.new <<'UNIT'
[Unit]
Description=etcd key-value store (do-k8s-ha)
Documentation=https://etcd.io/docs/
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
ExecStart=/usr/local/bin/etcd --config-file /etc/etcd/etcd.conf.yml
Restart=always
RestartSec=5s
LimitNOFILE=40000

[Install]
WantedBy=multi-user.target
UNIT
if ! cmp -s /etc/systemd/system/etcd.service.new /etc/systemd/system/etcd.service; then
  mv /etc/systemd/system/etcd.service.new /etc/systemd/system/etcd.service
  changed=true
else
  rm -f /etc/systemd/system/etcd.service.new
fi
systemctl daemon-reload
systemctl enable etcd >/dev/null 2>&1
# --no-block: a new member waits for its peers to form a quorum; the health check waits for that.
if [ "$changed" = true ] && systemctl is-active --quiet etcd; then
  systemctl restart --no-block etcd
else
  systemctl start --no-block etcd
fi
echo "etcd member $NODE_NAME ($NODE_IP) is started"
