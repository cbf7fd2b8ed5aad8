#!/usr/bin/env bash
# Installs the etcd CA and issues this member's certificate (server, peer and client use) for its
# private IP. A current certificate is kept, so a second run changes nothing.
set -euo pipefail

NODE_NAME='node1'
NODE_IP='10.240.0.2'
PKI_DIR='/etc/etcd/pki'

umask 077
mkdir -p "$PKI_DIR"
cat > "$PKI_DIR/ca.crt.new" <<'PEM'
-----BEGIN CERTIFICATE-----
PLACEHOLDER-etcd-ca
-----END CERTIFICATE-----
PEM
cat > "$PKI_DIR/ca.key" <<'PEM'
-----BEGIN PRIVATE KEY-----
PLACEHOLDER-etcd-ca-key
-----END PRIVATE KEY-----
PEM
mv "$PKI_DIR/ca.crt.new" "$PKI_DIR/ca.crt"

if [ -f "$PKI_DIR/member.crt" ] && [ -f "$PKI_DIR/member.key" ] \
  && openssl verify -CAfile "$PKI_DIR/ca.crt" "$PKI_DIR/member.crt" >/dev/null 2>&1 \
  && openssl x509 -in "$PKI_DIR/member.crt" -noout -ext subjectAltName | grep -qE "IP Address:${NODE_IP//./\\.}(,|$)"; then
  echo "etcd certificate of $NODE_NAME is current"
  exit 0
fi

cat > "$PKI_DIR/member.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:${NODE_NAME},DNS:localhost,IP:${NODE_IP},IP:127.0.0.1
EXT
openssl req -new -nodes -newkey rsa:2048 -keyout "$PKI_DIR/member.key" -out "$PKI_DIR/member.csr" \
  -subj "/CN=${NODE_NAME}" 2>/dev/null
openssl x509 -req -sha256 -days 3650 -in "$PKI_DIR/member.csr" -CA "$PKI_DIR/ca.crt" -CAkey "$PKI_DIR/ca.key" \
  -set_serial "0x$(openssl rand -hex 16)" -extfile "$PKI_DIR/member.ext" -out "$PKI_DIR/member.crt" 2>/dev/null
rm -f "$PKI_DIR/member.csr" "$PKI_DIR/member.ext"
echo "issued the etcd certificate of $NODE_NAME for $NODE_IP"
