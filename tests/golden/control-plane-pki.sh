#!/usr/bin/env bash
# Installs the program's CAs, service-account keys and etcd client certificate where kubeadm
# looks for them. kubeadm then issues every other certificate from these, on any node. A renewed
# etcd client certificate needs no restart: the API server's etcd client reads its files on
# every TLS handshake (etcd client/pkg/transport/listener.go, TLSInfo.baseConfig).
set -euo pipefail

PKI=/etc/kubernetes/pki

install_file() { # path, mode; content on stdin
  mkdir -p "$(dirname "$1")"
  cat > "$1.new"
  chmod "$2" "$1.new"
  # A CA is never swapped on a live node: every certificate and kubeconfig there trusts the old one.
  case "$1" in
    *ca.crt)
      if [ -f "$1" ] && ! cmp -s "$1" "$1.new"; then
        rm -f "$1.new"
        echo "$1 holds another CA: this node was made with another PKI. Not mixing CAs; replace the node instead (README: Replace a node)" >&2
        exit 1
      fi
      ;;
  esac
  mv "$1.new" "$1"
}

umask 077
install_file "$PKI/ca.crt" 0644 <<'PEM'
-----BEGIN CERTIFICATE-----
PLACEHOLDER-kubernetes-ca
-----END CERTIFICATE-----
PEM
install_file "$PKI/ca.key" 0600 <<'PEM'
-----BEGIN PRIVATE KEY-----
PLACEHOLDER-kubernetes-ca-key
-----END PRIVATE KEY-----
PEM
install_file "$PKI/front-proxy-ca.crt" 0644 <<'PEM'
-----BEGIN CERTIFICATE-----
PLACEHOLDER-front-proxy-ca
-----END CERTIFICATE-----
PEM
install_file "$PKI/front-proxy-ca.key" 0600 <<'PEM'
-----BEGIN PRIVATE KEY-----
PLACEHOLDER-front-proxy-ca-key
-----END PRIVATE KEY-----
PEM
install_file "$PKI/sa.key" 0600 <<'PEM'
-----BEGIN PRIVATE KEY-----
PLACEHOLDER-service-account-key
-----END PRIVATE KEY-----
PEM
install_file "$PKI/sa.pub" 0644 <<'PEM'
-----BEGIN PUBLIC KEY-----
PLACEHOLDER-service-account-public-key
-----END PUBLIC KEY-----
PEM
install_file "$PKI/etcd/ca.crt" 0644 <<'PEM'
-----BEGIN CERTIFICATE-----
PLACEHOLDER-etcd-ca
-----END CERTIFICATE-----
PEM
install_file "$PKI/kubelet-serving-ca.crt" 0644 <<'PEM'
-----BEGIN CERTIFICATE-----
PLACEHOLDER-kubelet-serving-ca
-----END CERTIFICATE-----
PEM
install_file "$PKI/apiserver-etcd-client.crt" 0644 <<'PEM'
-----BEGIN CERTIFICATE-----
PLACEHOLDER-apiserver-etcd-client
-----END CERTIFICATE-----
PEM
install_file "$PKI/apiserver-etcd-client.key" 0600 <<'PEM'
-----BEGIN PRIVATE KEY-----
PLACEHOLDER-apiserver-etcd-client-key
-----END PRIVATE KEY-----
PEM
install_file '/etc/kubernetes/do-k8s-ha-admin.conf' 0600 <<'KUBECONFIG'
apiVersion: v1
kind: Config
clusters:
  - name: k8s-dev
    cluster:
      server: https://127.0.0.1:6444
      certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClBMQUNFSE9MREVSLWt1YmVybmV0ZXMtY2EKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=
users:
  - name: k8s-dev-admin
    user:
      client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClBMQUNFSE9MREVSLWFkbWluCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K
      client-key-data: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tClBMQUNFSE9MREVSLWFkbWluLWtleQotLS0tLUVORCBQUklWQVRFIEtFWS0tLS0tCg==
contexts:
  - name: k8s-dev
    context:
      cluster: k8s-dev
      user: k8s-dev-admin
current-context: k8s-dev
KUBECONFIG
echo "control-plane certificates are in $PKI"
