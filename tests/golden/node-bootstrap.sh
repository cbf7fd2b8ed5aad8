#!/usr/bin/env bash
# do-k8s-ha first boot, run by the user data (node-user-data.yaml): prepares a droplet for any
# role and any Kubernetes version. It names neither on purpose: DigitalOcean keeps user data for
# the droplet's life and a change of it replaces the droplet, so what depends on the version or
# the roles is done by remote steps (releases.sh, etcd-install.sh). Runs once at first boot; safe
# to run again.
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
# nginx with its stream module: the local API proxy of any Kubernetes node (idle on an etcd-only
# node); nftables for the metadata guard's table (metadata-guard.sh), so its step only loads it.
# Nothing that depends on the Kubernetes version is installed here: the releases step fetches
# containerd, runc, the CNI plugins, crictl, kubeadm, kubelet and kubectl beside this, pinned and
# checked (releases.sh).
apt_get install -y -q ca-certificates curl jq nginx libnginx-mod-stream nftables
# Only the API proxy unit runs nginx; the distribution's web server stays off.
systemctl disable --now nginx >/dev/null 2>&1 || true

mkdir -p /var/lib/do-k8s-ha
date -u +%FT%TZ > /var/lib/do-k8s-ha/bootstrapped
