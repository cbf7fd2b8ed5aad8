#!/usr/bin/env bash
# Pulls the pod network's images through the node's containerd, run by its unit
# (pod-network-images.service, which the downloads start at their end, releases.sh; its output
# in journalctl -u do-k8s-ha-pod-network-images). Nothing waits for it. An
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
