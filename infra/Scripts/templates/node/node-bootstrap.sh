#!/usr/bin/env bash
# do-k8s-ha first boot, run by the user data (node-user-data.yaml): prepares a droplet for any
# role and any Kubernetes version. It names neither on purpose: DigitalOcean keeps user data for
# the droplet's life and a change of it replaces the droplet, so what depends on the version or
# the roles is done by remote steps (kubernetes-packages.sh, etcd-install.sh). Runs once at first
# boot; safe to run again.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
# unattended-upgrades holds the dpkg lock at first boot on Ubuntu: wait for it, never fail on it.
apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }

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

apt_get update -q
# containerd (Ubuntu's, the 1.7 series) and nginx with its stream module (the local API proxy)
# serve any Kubernetes node; on an etcd-only node they stay idle.
apt_get install -y -q apt-transport-https ca-certificates curl gpg jq containerd nginx libnginx-mod-stream
# Only the API proxy unit runs nginx; the distribution's web server stays off.
systemctl disable --now nginx >/dev/null 2>&1 || true

mkdir -p /etc/containerd
if [ ! -f /etc/containerd/config.toml ] || ! grep -q 'SystemdCgroup = true' /etc/containerd/config.toml; then
  containerd config default > /etc/containerd/config.toml
  # kubelet uses the systemd cgroup driver (kubeadm's default); containerd must use the same.
  sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' /etc/containerd/config.toml
fi
systemctl enable containerd
systemctl restart containerd

mkdir -p /var/lib/do-k8s-ha
date -u +%FT%TZ > /var/lib/do-k8s-ha/bootstrapped
