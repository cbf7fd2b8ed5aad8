#!/usr/bin/env bash
# do-k8s-ha cloud-init user data: prepares a droplet for kubeadm.
# Runs once at first boot; safe to run again (every step overwrites or checks its own state).
set -euo pipefail

KUBERNETES_VERSION='1.35.1'
KUBERNETES_MINOR='v1.35'
CONTAINERD_VERSION='1.7.*'
INSTALL_KUBERNETES=false
export DEBIAN_FRONTEND=noninteractive

# kubelet refuses to start while swap is on.
swapoff -a
sed -ri '/\sswap\s/ s/^#?/#/' /etc/fstab

cat > /etc/modules-load.d/kubernetes.conf <<'CONF'
overlay
br_netfilter
CONF
modprobe overlay
modprobe br_netfilter

cat > /etc/sysctl.d/99-kubernetes.conf <<'CONF'
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
CONF
sysctl --system >/dev/null

apt-get update -q
apt-get install -y -q apt-transport-https ca-certificates curl gpg jq

if [ "$INSTALL_KUBERNETES" = "true" ]; then
  apt-get install -y -q "containerd=${CONTAINERD_VERSION}"
  mkdir -p /etc/containerd
  containerd config default > /etc/containerd/config.toml
  # kubelet uses the systemd cgroup driver (kubeadm's default); containerd must use the same.
  sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' /etc/containerd/config.toml
  systemctl enable containerd
  systemctl restart containerd

  # Only the per-minor repositories exist on pkgs.k8s.io (apt.kubernetes.io is gone).
  install -m 0755 -d /etc/apt/keyrings
  curl -fsSL --retry 5 "https://pkgs.k8s.io/core:/stable:/${KUBERNETES_MINOR}/deb/Release.key" \
    | gpg --dearmor --yes -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
  echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/${KUBERNETES_MINOR}/deb/ /" \
    > /etc/apt/sources.list.d/kubernetes.list
  apt-get update -q
  apt-mark unhold kubelet kubeadm kubectl >/dev/null 2>&1 || true
  apt-get install -y -q --allow-downgrades \
    "kubelet=${KUBERNETES_VERSION}-*" "kubeadm=${KUBERNETES_VERSION}-*" "kubectl=${KUBERNETES_VERSION}-*"
  # Upgrades are a deliberate, rolling step of the program, never an unattended apt upgrade.
  apt-mark hold kubelet kubeadm kubectl
  systemctl enable kubelet
fi

mkdir -p /var/lib/do-k8s-ha
echo "$KUBERNETES_VERSION" > /var/lib/do-k8s-ha/bootstrapped
