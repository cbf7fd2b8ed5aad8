#!/usr/bin/env bash
# Creates the cluster's certificate authorities and first credentials, once, on the machine that
# runs `pulumi up`. Pulumi keeps the output as a secret in the stack state, so the program owns
# the CAs: every join knows the discovery hash up front and no node is special.
# Output: one line per item, "<name> <base64 of the file>", plus the discovery hash and token.
set -euo pipefail

DAYS_CA=3650
DAYS_CLIENT=365

command -v openssl >/dev/null || { echo "openssl is required on the machine that runs pulumi up" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
umask 077

new_ca() { # file stem, common name
  openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days "$DAYS_CA" \
    -keyout "$1.key" -out "$1.crt" -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign" 2>/dev/null
}

new_client() { # file stem, signing CA stem, subject
  openssl req -new -nodes -newkey rsa:2048 -keyout "$1.key" -out "$1.csr" -subj "$3" 2>/dev/null
  printf 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > "$1.ext"
  openssl x509 -req -sha256 -days "$DAYS_CLIENT" -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" \
    -set_serial "0x$(openssl rand -hex 16)" -extfile "$1.ext" -out "$1.crt" 2>/dev/null
}

new_ca ca kubernetes
new_ca front-proxy-ca front-proxy-ca
new_ca etcd-ca etcd-ca
new_client apiserver-etcd-client etcd-ca "/CN=kube-apiserver-etcd-client"
# kubeadm binds the group kubeadm:cluster-admins to cluster-admin; system:masters stays break-glass.
new_client admin ca "/O=kubeadm:cluster-admins/CN=kubernetes-admin"
openssl genrsa -out sa.key 2048 2>/dev/null
openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null

for f in ca.crt ca.key front-proxy-ca.crt front-proxy-ca.key etcd-ca.crt etcd-ca.key \
  apiserver-etcd-client.crt apiserver-etcd-client.key admin.crt admin.key sa.key sa.pub; do
  printf '%s %s\n' "$f" "$(openssl base64 -A -in "$f")"
done
# kubeadm's --discovery-token-ca-cert-hash: sha256 of the CA's public key (SubjectPublicKeyInfo).
printf 'ca-cert-hash sha256:%s\n' "$(openssl x509 -pubkey -noout -in ca.crt | openssl pkey -pubin -outform der | openssl dgst -sha256 -r | cut -d' ' -f1)"
printf 'bootstrap-token %s.%s\n' "$(openssl rand -hex 3)" "$(openssl rand -hex 8)"
