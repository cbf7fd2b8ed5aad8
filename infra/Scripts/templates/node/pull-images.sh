#!/usr/bin/env bash
# Pulls the pod network's images once containerd runs (the releases step started it), beside node
# setup and kubeadm, which do not need them: Calico's pods find them when they start. An image
# already there is not pulled again. One that cannot be pulled is warned about, not fatal: the
# operator decides its images, and its pods pull what they lack.
set -euo pipefail

IMAGES=({{IMAGES}})

for image in "${IMAGES[@]}"; do
  if crictl inspecti "$image" >/dev/null 2>&1; then
    continue
  fi
  if crictl pull "$image" >/dev/null; then
    echo "pulled $image"
  else
    echo "warning: could not pull $image ahead; the pod network pulls it when it starts" >&2
  fi
done
