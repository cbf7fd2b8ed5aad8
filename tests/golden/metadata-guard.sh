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
#!/usr/sbin/nft -f
# do-k8s-ha: pods never reach the droplet's metadata service, which serves the droplet's user
# data (its SSH host key) to whatever asks it. A packet a pod sends leaves through the node's
# forward hook; the node's own processes, host-network pods included (cloud-init, the
# DigitalOcean agent, calico-node), send theirs through the output hook and keep their access.
# A table of its own: a drop is final whatever another table accepts, since accept only ends
# the base chain it is in (nft(8), "VERDICT STATEMENT"), so neither Calico's nor kube-proxy's
# tables, which accept pod traffic, nor iptables-legacy's, can undo it. The forward hook comes
# after prerouting's DNAT, so a Service that points at the address is refused too.
# The first two lines make the file replace the table whole, in one transaction.
table inet do_k8s_ha_metadata_guard
delete table inet do_k8s_ha_metadata_guard
table inet do_k8s_ha_metadata_guard {
	chain forward {
		type filter hook forward priority filter - 10; policy accept;
		ip daddr 169.254.169.254 counter reject with icmpx type admin-prohibited
	}
}
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
echo "pods are kept off the metadata service at 169.254.169.254"
