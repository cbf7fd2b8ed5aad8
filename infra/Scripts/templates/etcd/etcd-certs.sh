#!/usr/bin/env bash
# Installs the etcd CA certificate and this member's certificate and key. The program issues them
# (components/ClusterPki.cs): the etcd CA key never leaves the Pulumi state. A renewed certificate
# replaces the old one in place, and etcd needs no restart: it reads its certificate files on
# every TLS handshake (etcd client/pkg/transport/listener.go, TLSInfo.baseConfig).
set -euo pipefail

NODE_NAME={{NODE_NAME}}
NODE_IP={{NODE_IP}}
PKI_DIR={{PKI_DIR}}

{{ETCD_USER}}

{{CHECK_CREDENTIAL}}

ensure_etcd_user
# etcd (User=etcd) must traverse every folder on the way to its certificates.
install -d -m 0755 "$(dirname "$PKI_DIR")"
install -d -m 0700 "$PKI_DIR"
# The new files are root's alone until they are in place, then etcd's (below).
umask 077
new=$(mktemp -d "$PKI_DIR/.new.XXXXXX")
trap 'rm -rf "$new"' EXIT
cat > "$new/ca.crt" <<'PEM'
{{ETCD_CA_CERT}}
PEM
cat > "$new/member.crt" <<'PEM'
{{MEMBER_CERT}}
PEM
cat > "$new/member.key" <<'PEM'
{{MEMBER_KEY}}
PEM

if [ -f "$PKI_DIR/ca.crt" ] && ! cmp -s "$PKI_DIR/ca.crt" "$new/ca.crt"; then
  echo "$NODE_NAME trusts another etcd CA ($PKI_DIR/ca.crt): it was made with another PKI. Not mixing CAs; replace the node instead (README: Replace a node)" >&2
  exit 1
fi
check_credential "the etcd certificate of $NODE_NAME" "the etcd key of $NODE_NAME" "$NODE_IP" "$new/ca.crt" "$new/member.crt" "$new/member.key"

if cmp -s "$new/member.crt" "$PKI_DIR/member.crt" && cmp -s "$new/member.key" "$PKI_DIR/member.key"; then
  echo "etcd certificate of $NODE_NAME is current"
else
  mv "$new/member.key" "$PKI_DIR/member.key"
  mv "$new/member.crt" "$PKI_DIR/member.crt"
  echo "installed the etcd certificate of $NODE_NAME for $NODE_IP (until $(openssl x509 -in "$PKI_DIR/member.crt" -noout -enddate | cut -d= -f2))"
fi
mv "$new/ca.crt" "$PKI_DIR/ca.crt"
# etcd reads them as its own user: the folder and the key are its alone, the certificates public.
chown -R etcd:etcd "$PKI_DIR"
chmod 0700 "$PKI_DIR"
chmod 0600 "$PKI_DIR/member.key"
chmod 0644 "$PKI_DIR/ca.crt" "$PKI_DIR/member.crt"
# Earlier versions issued the member certificate on the node, with the CA key: it goes.
rm -f "$PKI_DIR/ca.key"
