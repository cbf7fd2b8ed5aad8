#!/usr/bin/env bash
# Installs kubeadm, kubelet and kubectl of KUBERNETES_VERSION (held) on a node that has not joined
# yet, and gives containerd the sandbox image kubeadm expects for that version. This is a remote
# step, not user data: user data is the same for every node and every version, and a droplet
# replaced after an upgrade or a role change boots it and then gets the current version here.
# A node that has joined is left alone: its version changes only by the rolling upgrade.
set -euo pipefail

KUBERNETES_VERSION='1.35.1'
KUBERNETES_MINOR='v1.35'
export DEBIAN_FRONTEND=noninteractive

# containerd's CRI sandbox ("pause") image must be the one kubeadm expects for the release, or
# kubeadm warns and the kubelet runs pods on an image kubeadm never pre-pulled.
set_sandbox_image() { # Kubernetes version
  local image
  image=$(kubeadm config images list --kubernetes-version "v$1" 2>/dev/null | grep '/pause:') \
    || { echo "kubeadm names no pause image for v$1" >&2; exit 1; }
  if ! grep -q "sandbox_image = \"$image\"" /etc/containerd/config.toml; then
    sed -i -E "s#^([[:space:]]*sandbox_image = ).*#\\1\"$image\"#" /etc/containerd/config.toml
    systemctl restart containerd
    echo "containerd's sandbox image is now $image"
  fi
}

# Only the per-minor repositories exist on pkgs.k8s.io (apt.kubernetes.io is gone), and
# unattended-upgrades may hold the dpkg lock on a fresh Ubuntu droplet: wait for it.
kubernetes_repository() { # minor, e.g. v1.35
  install -m 0755 -d /etc/apt/keyrings
  curl -fsSL --retry 5 "https://pkgs.k8s.io/core:/stable:/$1/deb/Release.key" \
    | gpg --dearmor --yes -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
  # apt verifies as its unprivileged _apt user: the keyring must be readable by all (as
  # Kubernetes' install docs chmod it), or the repository is "not signed" (NO_PUBKEY).
  chmod 0644 /etc/apt/keyrings/kubernetes-apt-keyring.gpg
  echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/$1/deb/ /" \
    > /etc/apt/sources.list.d/kubernetes.list
  apt-get -o DPkg::Lock::Timeout=600 update -q
}

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
