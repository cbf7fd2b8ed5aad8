#!/usr/bin/env bash
# Starts the node's downloads (releases.sh) in a unit of their own, do-k8s-ha-releases.service,
# and returns without waiting for them (--no-block): they run beside cloud-init from the moment
# sshd answers, while this step holds one of the engine's --parallel slots for one SSH connection,
# not for the minute of the downloads (docs/performance.md). Node setup and each upgrade step wait
# for the unit (releases-wait.fragment) and fail with its log if it failed. Run again (a new
# kubernetesVersion, new checksums), it starts the new downloads; a run still going is stopped
# first, and what it fetched stays for the new run to resume.
set -euo pipefail

{{INSTALL_TOOL}}

umask 022
install_tool {{DOWNLOADS_TOOL}} <<'DOWNLOADS'
{{DOWNLOADS}}
DOWNLOADS
cat > /etc/systemd/system/do-k8s-ha-releases.service <<'UNIT'
{{UNIT}}
UNIT
# The pod network's images, which the downloads start at their end.
install_tool {{PULL_TOOL}} <<'PULL'
{{PULL_SCRIPT}}
PULL
cat > /etc/systemd/system/do-k8s-ha-pod-network-images.service <<'UNIT'
{{PULL_UNIT}}
UNIT
systemctl daemon-reload
systemctl restart --no-block do-k8s-ha-releases.service
echo "$(hostname) downloads Kubernetes v{{KUBERNETES_VERSION}} in the background: journalctl -u do-k8s-ha-releases"
