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
cat > /usr/local/sbin/do-k8s-ha-pull-pod-network-images.new <<'SCRIPT'
#!/usr/bin/env bash
# Pulls the pod network's images through the node's containerd, run by its unit
# (pod-network-images.service; its output in journalctl -u do-k8s-ha-pod-network-images). An
# image already there is not pulled again. One that cannot be pulled ahead fails the unit after
# the others are in: the operator decides its images, and its pods pull what they lack.
set -euo pipefail

IMAGES=('quay.io/calico/node:v3.30.6' 'quay.io/calico/cni:v3.30.6' 'quay.io/calico/pod2daemon-flexvol:v3.30.6' 'quay.io/calico/csi:v3.30.6' 'quay.io/calico/node-driver-registrar:v3.30.6')

failed=0
for image in "${IMAGES[@]}"; do
  if crictl inspecti "$image" >/dev/null 2>&1; then
    continue
  fi
  if crictl pull "$image" >/dev/null; then
    echo "pulled $image"
  else
    echo "could not pull $image ahead; the pod network pulls it when it starts" >&2
    failed=1
  fi
done
exit "$failed"
SCRIPT
chmod 0755 /usr/local/sbin/do-k8s-ha-pull-pod-network-images.new
mv -f /usr/local/sbin/do-k8s-ha-pull-pod-network-images.new /usr/local/sbin/do-k8s-ha-pull-pod-network-images
cat > /etc/systemd/system/do-k8s-ha-pod-network-images.service <<'UNIT'
[Unit]
Description=The pod network's images, pulled ahead of its pods (do-k8s-ha)
After=containerd.service
Wants=containerd.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/do-k8s-ha-pull-pod-network-images
UNIT
systemctl daemon-reload
systemctl restart --no-block do-k8s-ha-pod-network-images.service
echo "$(hostname) pulls the pod network's images in the background: journalctl -u do-k8s-ha-pod-network-images"
