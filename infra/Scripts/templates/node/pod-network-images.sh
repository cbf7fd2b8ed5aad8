#!/usr/bin/env bash
# The pod network's images, pulled ahead of its pods once containerd runs (the releases step
# started it), by a unit of their own: the step starts it without waiting (--no-block; a
# oneshot's start otherwise waits for its ExecStart to end, systemctl(1)) and returns. Waiting
# here would hold one of the engine's --parallel slots for the whole pull on every node, the
# slots a large cluster's control plane waits for (docs/performance.md). Nothing waits for the
# pull: Calico's pods find the images when they start, and pull what they lack. Run again (a new
# Calico), it pulls the new list; a restart stops a pull still running first.
set -euo pipefail

umask 022
cat > {{PULL_TOOL}}.new <<'SCRIPT'
{{PULL_SCRIPT}}
SCRIPT
chmod 0755 {{PULL_TOOL}}.new
mv -f {{PULL_TOOL}}.new {{PULL_TOOL}}
cat > /etc/systemd/system/do-k8s-ha-pod-network-images.service <<'UNIT'
{{UNIT}}
UNIT
systemctl daemon-reload
systemctl restart --no-block do-k8s-ha-pod-network-images.service
echo "$(hostname) pulls the pod network's images in the background: journalctl -u do-k8s-ha-pod-network-images"
