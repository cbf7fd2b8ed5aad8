#!/usr/bin/env bash
# Installs kubeadm, kubelet and kubectl of KUBERNETES_VERSION (held) on a node that has not joined
# yet, and gives containerd the sandbox image kubeadm expects for that version. This is a remote
# step, not user data: user data is the same for every node and every version, and a droplet
# replaced after an upgrade or a role change boots it and then gets the current version here.
# A node that has joined is left alone: its version changes only by the rolling upgrade.
set -euo pipefail

KUBERNETES_VERSION={{KUBERNETES_VERSION}}
KUBERNETES_MINOR={{KUBERNETES_MINOR}}
export DEBIAN_FRONTEND=noninteractive

{{SANDBOX_IMAGE}}

{{KUBERNETES_REPOSITORY}}

if [ -f /etc/kubernetes/kubelet.conf ]; then
  echo "$(hostname) has joined: its Kubernetes packages change only in a rolling upgrade"
  exit 0
fi

if [ "$(kubeadm version -o short 2>/dev/null || true)" != "v$KUBERNETES_VERSION" ]; then
  kubernetes_repository "$KUBERNETES_MINOR"
  apt-mark unhold kubelet kubeadm kubectl >/dev/null 2>&1 || true
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --allow-downgrades \
    "kubelet=${KUBERNETES_VERSION}-*" "kubeadm=${KUBERNETES_VERSION}-*" "kubectl=${KUBERNETES_VERSION}-*"
  # Upgrades are a deliberate, rolling step of the program, never an unattended apt upgrade.
  apt-mark hold kubelet kubeadm kubectl >/dev/null
  systemctl enable kubelet
fi
set_sandbox_image "$KUBERNETES_VERSION"
echo "$(hostname) has Kubernetes v$KUBERNETES_VERSION packages"
