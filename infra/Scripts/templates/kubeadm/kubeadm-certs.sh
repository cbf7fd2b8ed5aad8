#!/usr/bin/env bash
# kubeadm's own certificates on this control-plane node: the API server's serving and client
# certificates and the controller-manager's and scheduler's kubeconfigs, a year each, which
# kubeadm renews on an upgrade only. This step runs one control-plane node after another (the
# engine's chain) whenever RENEW_BEFORE moves: the end of this node's renewal clock, a
# certificate the TLS provider renews in its last 60 days, as it renews the program's own.
# Every certificate of kubeadm's here that ends before it is renewed (`kubeadm certs renew`), and
# each component that reads one is restarted (its manifest out of the static pod path and back,
# kubeadm's "Certificate Management with kubeadm"), back before the next. Prints every end.
set -euo pipefail

NODE_NAME={{NODE_NAME}}
RENEW_BEFORE={{RENEW_BEFORE}}
WAIT_SECONDS={{WAIT_SECONDS}}
K=/etc/kubernetes
MANIFESTS=$K/manifests

# `kubeadm certs renew` names and their files (cmd/kubeadm/app/phases/certs/renewal/manager.go).
NAMES=(apiserver apiserver-kubelet-client front-proxy-client controller-manager.conf scheduler.conf super-admin.conf)
file_of() { case "$1" in *.conf) echo "$K/$1" ;; *) echo "$K/pki/$1.crt" ;; esac; }
reader_of() { # the static pod that reads it (none for super-admin.conf)
  case "$1" in
    apiserver | apiserver-kubelet-client | front-proxy-client) echo kube-apiserver ;;
    controller-manager.conf) echo kube-controller-manager ;;
    scheduler.conf) echo kube-scheduler ;;
  esac
}

not_after() { # a certificate file, or a kubeconfig with its client certificate embedded
  if [[ $1 == *.conf ]]; then
    sed -n 's/^ *client-certificate-data: *//p' "$1" | head -n 1 | base64 -d | openssl x509 -noout -enddate
  else
    openssl x509 -noout -enddate -in "$1"
  fi | cut -d= -f2
}

# A component runs while its secure port is held on this node (pkg/cluster/ports/ports.go).
running() {
  local port
  case "$1" in
    kube-apiserver) port={{API_SERVER_PORT}} ;;
    kube-controller-manager) port=10257 ;;
    kube-scheduler) port=10259 ;;
  esac
  [ -n "$(ss -ltnH "sport = :$port")" ]
}

# A run stopped while a component was being restarted left its manifest parked: put it back.
for component in kube-apiserver kube-controller-manager kube-scheduler; do
  if [ -f "$K/$component.yaml.restarting" ] && [ ! -f "$MANIFESTS/$component.yaml" ]; then
    mv "$K/$component.yaml.restarting" "$MANIFESTS/$component.yaml"
  fi
done

restart() { # component: the kubelet stops a static pod whose manifest goes, and starts it again
  local manifest=$MANIFESTS/$1.yaml parked=$K/$1.yaml.restarting deadline
  mv "$manifest" "$parked"
  deadline=$((SECONDS + WAIT_SECONDS))
  while running "$1"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      mv "$parked" "$manifest"
      echo "$NODE_NAME's $1 did not stop within ${WAIT_SECONDS}s of its manifest leaving $MANIFESTS" >&2
      exit 1
    fi
    sleep 1
  done
  mv "$parked" "$manifest"
  deadline=$((SECONDS + WAIT_SECONDS))
  until running "$1" && { [ "$1" != kube-apiserver ] || curl -ksf --max-time 3 https://127.0.0.1:{{API_SERVER_PORT}}/readyz >/dev/null 2>&1; }; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$NODE_NAME's $1 did not come back within ${WAIT_SECONDS}s with its renewed certificate. Look: 'crictl ps -a --name $1', 'crictl logs <id>'" >&2
      exit 1
    fi
    sleep 2
  done
  echo "restarted $NODE_NAME's $1 with its renewed certificate"
}

before=$(date -d "$RENEW_BEFORE" +%s)
restarts=()
for name in "${NAMES[@]}"; do
  file=$(file_of "$name")
  [ -f "$file" ] || continue
  if [ "$(date -d "$(not_after "$file")" +%s)" -lt "$before" ]; then
    kubeadm certs renew "$name"
    reader=$(reader_of "$name")
    if [ -n "$reader" ] && [[ " ${restarts[*]} " != *" $reader "* ]]; then
      restarts+=("$reader")
    fi
  fi
done
for component in "${restarts[@]}"; do
  restart "$component"
done

earliest=""
for name in "${NAMES[@]}"; do
  file=$(file_of "$name")
  [ -f "$file" ] || continue
  end=$(date -u -d "$(not_after "$file")" +%Y-%m-%dT%H:%M:%SZ)
  echo "$NODE_NAME $name ends $end"
  if [ -z "$earliest" ] || [[ $end < $earliest ]]; then
    earliest=$end
  fi
done
echo "kubeadm-certificates-end=$earliest"
