#!/usr/bin/env bash
# Starts the node's downloads (releases.sh) in a unit of their own, do-k8s-ha-releases.service,
# and returns without waiting for them (--no-block): they run beside cloud-init from the moment
# sshd answers, while this step holds one of the engine's --parallel slots for one SSH connection,
# not for the minute of the downloads (docs/performance.md). Node setup and each upgrade step wait
# for the unit (releases-wait.fragment) and fail with its log if it failed. Run again (a new
# kubernetesVersion, new checksums), it starts the new downloads; a run still going is stopped
# first, and what it fetched stays for the new run to resume.
set -euo pipefail

umask 022
cat > {{DOWNLOADS_TOOL}}.new <<'DOWNLOADS'
{{DOWNLOADS}}
DOWNLOADS
chmod 0755 {{DOWNLOADS_TOOL}}.new
mv -f {{DOWNLOADS_TOOL}}.new {{DOWNLOADS_TOOL}}
cat > /etc/systemd/system/do-k8s-ha-releases.service <<'UNIT'
{{UNIT}}
UNIT
# The pod network's images, which the downloads start at their end.
cat > {{PULL_TOOL}}.new <<'PULL'
{{PULL_SCRIPT}}
PULL
chmod 0755 {{PULL_TOOL}}.new
mv -f {{PULL_TOOL}}.new {{PULL_TOOL}}
cat > /etc/systemd/system/do-k8s-ha-pod-network-images.service <<'UNIT'
{{PULL_UNIT}}
UNIT
systemctl daemon-reload
systemctl restart --no-block do-k8s-ha-releases.service
echo "$(hostname) downloads Kubernetes v{{KUBERNETES_VERSION}} in the background: journalctl -u do-k8s-ha-releases"
