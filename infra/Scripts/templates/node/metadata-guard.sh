#!/usr/bin/env bash
# Keeps the node's pods off the droplet metadata service (docs/hardening.md): the nftables
# rules in metadata-guard.nft, loaded now and by a unit at every boot, before containerd and
# kubelet start any pod. Safe to run again: the file replaces its table whole.
set -euo pipefail

# User data installs nftables (node-bootstrap.sh); a droplet an earlier release made may lack it.
export DEBIAN_FRONTEND=noninteractive
if ! command -v nft >/dev/null 2>&1; then
  apt-get -o DPkg::Lock::Timeout=600 install -y -q nftables
fi

mkdir -p /etc/do-k8s-ha
cat > /etc/do-k8s-ha/metadata-guard.nft.new <<'NFT'
{{RULES}}
NFT
nft -c -f /etc/do-k8s-ha/metadata-guard.nft.new
mv /etc/do-k8s-ha/metadata-guard.nft.new /etc/do-k8s-ha/metadata-guard.nft

# Not nftables.service: its /etc/nftables.conf starts with "flush ruleset", which would also
# remove Calico's and kube-proxy's tables. After it, where it is enabled, so its flush at boot
# comes first.
cat > /etc/systemd/system/do-k8s-ha-metadata-guard.service <<'UNIT'
[Unit]
Description=Keep pods off the droplet metadata service (do-k8s-ha)
DefaultDependencies=no
After=nftables.service
Before=network-pre.target containerd.service kubelet.service
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/nft -f /etc/do-k8s-ha/metadata-guard.nft

[Install]
WantedBy=sysinit.target
UNIT
systemctl daemon-reload
systemctl enable do-k8s-ha-metadata-guard >/dev/null 2>&1
# Loaded by the unit now as at boot: one place loads the rules.
systemctl restart do-k8s-ha-metadata-guard
echo "pods are kept off the metadata service at {{METADATA_ADDRESS}}"
