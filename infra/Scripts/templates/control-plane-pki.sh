#!/usr/bin/env bash
# Installs the program's CAs, service-account keys and etcd client certificate where kubeadm
# looks for them. kubeadm then issues every other certificate from these, on any node.
set -euo pipefail

PKI=/etc/kubernetes/pki

install_file() { # path, mode; content on stdin
  mkdir -p "$(dirname "$1")"
  cat > "$1.new"
  chmod "$2" "$1.new"
  mv "$1.new" "$1"
}

umask 077
{{PKI_FILES}}
echo "control-plane certificates are in $PKI"
