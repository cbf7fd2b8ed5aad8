#!/usr/bin/env bash
# Installs the pinned etcd release, verified by its checksum. Kept when it is already there.
set -euo pipefail

ETCD_VERSION='3.6.5'
ETCD_SHA256='66bad39ed920f6fc15fd74adcb8bfd38ba9a6412f8c7852d09eb11670e88cac3'
CONFIG='/etc/etcd/etcd.conf.yml'

# Read whole, then matched: etcd prints its version in four writes (etcdmain/config.go), and
# `etcd --version | grep -q` under pipefail fails now and then, when grep has stopped reading
# before the last one (SIGPIPE): the release installed again, and every member restarted.
installed=$(/usr/local/bin/etcd --version 2>/dev/null || true)
if grep -qx "etcd Version: ${ETCD_VERSION}" <<<"$installed"; then
  echo "etcd ${ETCD_VERSION} is installed"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -fsSL --retry 5 -o "$tmp/etcd.tar.gz" \
  "https://github.com/etcd-io/etcd/releases/download/v${ETCD_VERSION}/etcd-v${ETCD_VERSION}-linux-amd64.tar.gz"
echo "${ETCD_SHA256}  $tmp/etcd.tar.gz" | sha256sum --check --quiet
tar -xzf "$tmp/etcd.tar.gz" -C "$tmp" --strip-components=1
install -m 0755 "$tmp/etcd" "$tmp/etcdctl" /usr/local/bin/
# etcdutl (3.5 and later; 3.6 has snapshot status and restore only there).
if [ -f "$tmp/etcdutl" ]; then
  install -m 0755 "$tmp/etcdutl" /usr/local/bin/
fi
# A running member keeps its old release until it restarts: its service step restarts it, one
# member at a time (etcd-service.sh).
if [ -f "$CONFIG" ]; then
  touch "$CONFIG.restart"
fi
echo "installed etcd ${ETCD_VERSION}"
