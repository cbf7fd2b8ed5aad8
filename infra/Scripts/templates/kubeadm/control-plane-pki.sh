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
{{PKI_FILES}}
echo "control-plane certificates are in $PKI"
