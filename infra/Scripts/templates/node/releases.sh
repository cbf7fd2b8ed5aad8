#!/usr/bin/env bash
# The node's downloads, Kubespray's download model: kubeadm, kubelet, kubectl, containerd, runc,
# crictl and the CNI plugins of the cluster's release, from their release locations, each checked
# against the checksum table. Its unit, do-k8s-ha-releases.service, runs it as soon as SSH
# answers, beside cloud-init (it needs nothing user data installs), so that node setup and
# kubeadm only configure and start (releases-start.sh). On a node that has not joined it installs
# them, starts containerd and pulls the images kubeadm will run. On a joined node it only fills
# the cache: what runs there changes only in the rolling upgrade, which then finds the new
# release's files here. Then, on every node, it starts the pull of the pod network's images.
set -euo pipefail

KUBERNETES_VERSION={{KUBERNETES_VERSION}}
CONTROL_PLANE={{CONTROL_PLANE}}

{{RELEASE_FETCH}}

{{RELEASE_INSTALL}}

fetch_releases <<'FILES'
{{FILES}}
FILES

# The pod network's every-node images, pulled ahead through the running containerd by a unit of
# their own (pull-images.sh), which nothing waits for: Calico's pods find them when they start.
pull_pod_network_images() {
  systemctl restart --no-block do-k8s-ha-pod-network-images.service
}

if [ -f /etc/kubernetes/kubelet.conf ]; then
  echo "$(hostname) has joined: Kubernetes v$KUBERNETES_VERSION is in its cache for the rolling upgrade"
  pull_pod_network_images
  exit 0
fi

install_kubernetes kubeadm kubelet kubectl
sandbox=$(sandbox_image "$KUBERNETES_VERSION")
install_runtime "$sandbox"
install_kubelet_unit

# kubeadm's images, but etcd's: etcd runs outside the cluster (etcd-install.sh). A worker runs
# kube-proxy and the pause image only.
listed=$(kubeadm config images list --kubernetes-version "v$KUBERNETES_VERSION")
if [ "$CONTROL_PLANE" = true ]; then
  mapfile -t images < <(grep -v '/etcd:' <<<"$listed")
else
  mapfile -t images < <(grep -E '/(kube-proxy|pause):' <<<"$listed")
fi
pull_images "${images[@]}"
echo "$(hostname) has Kubernetes v$KUBERNETES_VERSION and containerd $(containerd --version | cut -d' ' -f3), images pulled"
pull_pod_network_images
