#!/usr/bin/env bash
# Warns about every certificate on this node that expires within WARN_DAYS days. The program's own
# certificates renew on any `pulumi up` in their last 60 days and kubeadm's on every upgrade, so
# one this close means renewals were missed (README "Certificates"). Reports; never fails.
set -euo pipefail

WARN_DAYS=30
CERT_DIRS=('/etc/kubernetes/pki' '/etc/etcd/pki' '/etc/do-k8s-ha/kubelet-serving')
KUBECONFIGS=('/etc/kubernetes/admin.conf' '/etc/kubernetes/super-admin.conf' '/etc/kubernetes/controller-manager.conf' '/etc/kubernetes/scheduler.conf')

seconds=$((WARN_DAYS * 86400))
expiring=0
check() { # what, PEM file
  if ! openssl x509 -in "$2" -noout -checkend "$seconds" >/dev/null 2>&1; then
    echo "warning: $1 expires $(openssl x509 -in "$2" -noout -enddate | cut -d= -f2), within ${WARN_DAYS} days: README \"Certificates\""
    expiring=$((expiring + 1))
  fi
}

for dir in "${CERT_DIRS[@]}"; do
  for cert in "$dir"/*.crt "$dir"/*/*.crt; do
    if [ -f "$cert" ]; then
      check "$cert" "$cert"
    fi
  done
done
client=$(mktemp)
trap 'rm -f "$client"' EXIT
for conf in "${KUBECONFIGS[@]}"; do
  if [ ! -f "$conf" ]; then
    continue
  fi
  # kubelet.conf names a file the kubelet rotates itself: only embedded certificates are checked.
  data=$(sed -n 's/^ *client-certificate-data: *//p' "$conf" | head -n 1)
  if [ -n "$data" ]; then
    printf '%s' "$data" | base64 -d > "$client"
    check "$conf" "$client"
  fi
done
echo "certificates: $expiring expiring within $WARN_DAYS days"
