#!/usr/bin/env bash
# Upgrades this node to TARGET as part of a rolling upgrade: `kubeadm upgrade apply` (first
# control-plane node) or `kubeadm upgrade node`, drain, kubelet and kubectl, uncordon, then it
# waits until this node is Ready. A control-plane node drains and uncordons itself with its own
# admin.conf (KUBECONFIG_FILE); a worker has no such credential (KUBECONFIG_FILE is empty): a
# control-plane node drains it before this step and uncordons it after (worker-drain.sh).
# The order is the engine's: each step depends on the one before it, so this script never waits
# for another node (it would hold an engine slot while waiting). A node already on TARGET is
# left alone, so a second run changes nothing.
set -euo pipefail

NODE_NAME='node3'
TARGET='1.35.1'
TARGET_MINOR='v1.35'
KUBEADM_UPGRADE=node
LOST_NODES=''
WAIT_SECONDS=600
export DEBIAN_FRONTEND=noninteractive

# containerd's CRI sandbox ("pause") image must be the one kubeadm expects for the release, or
# kubeadm warns and the kubelet runs pods on an image kubeadm never pre-pulled.
set_sandbox_image() { # Kubernetes version
  local image
  image=$(kubeadm config images list --kubernetes-version "v$1" 2>/dev/null | grep '/pause:') \
    || { echo "kubeadm names no pause image for v$1" >&2; exit 1; }
  if ! grep -q "sandbox_image = \"$image\"" /etc/containerd/config.toml; then
    sed -i -E "s#^([[:space:]]*sandbox_image = ).*#\\1\"$image\"#" /etc/containerd/config.toml
    systemctl restart containerd
    echo "containerd's sandbox image is now $image"
  fi
}

KUBECONFIG_FILE=''

kc() { timeout 60 kubectl --kubeconfig "$KUBECONFIG_FILE" --request-timeout=20s "$@"; }

# An API server may restart under a call (a control-plane upgrade): give calls a few tries
# (RETRY_TRIES, 30 unless set), 5 s apart.
retry() {
  local attempt tries=${RETRY_TRIES:-30}
  for attempt in $(seq 1 "$tries"); do
    if "$@"; then
      return 0
    fi
    [ "$attempt" -lt "$tries" ] && sleep 5
  done
  return 1
}

# kubectl drain waits up to its --timeout (300 s) for the evictions; the command's own bound must
# outlast it, or a slow drain is killed at the bound and started over. A drain that timed out is
# tried twice more, not thirty times (each try may take its five minutes).
drain_node() {
  timeout 330 kubectl --kubeconfig "$KUBECONFIG_FILE" --request-timeout=20s drain "$NODE_NAME" \
    --ignore-daemonsets --delete-emptydir-data --timeout=300s
}

# Only the per-minor repositories exist on pkgs.k8s.io (apt.kubernetes.io is gone), and
# unattended-upgrades may hold the dpkg lock on a fresh Ubuntu droplet: wait for it.
kubernetes_repository() { # minor, e.g. v1.35
  install -m 0755 -d /etc/apt/keyrings
  curl -fsSL --retry 5 "https://pkgs.k8s.io/core:/stable:/$1/deb/Release.key" \
    | gpg --dearmor --yes -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
  # apt verifies as its unprivileged _apt user: the keyring must be readable by all (as
  # Kubernetes' install docs chmod it), or the repository is "not signed" (NO_PUBKEY).
  chmod 0644 /etc/apt/keyrings/kubernetes-apt-keyring.gpg
  echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/$1/deb/ /" \
    > /etc/apt/sources.list.d/kubernetes.list
  apt-get -o DPkg::Lock::Timeout=600 update -q
}

upgraded() { # node: runs TARGET, is Ready and schedulable
  local state
  state=$(kc get node "$1" -o jsonpath='{.status.nodeInfo.kubeletVersion}/{.spec.unschedulable}/{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
  [ "$state" = "v$TARGET//True" ]
}

wait_for() { # node, what
  local deadline=$((SECONDS + WAIT_SECONDS))
  until upgraded "$1"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "upgrade of $NODE_NAME: $1 $2 within ${WAIT_SECONDS}s. Look: kubectl get node $1 -o wide; kubectl describe node $1" >&2
      exit 1
    fi
    sleep 2 # one small GET per poll: the rollout moves on as soon as the node is back
  done
}

# kubeadm upgrade apply's preflight wants every control-plane Node Ready (phases/upgrade/health.go,
# controlPlaneNodesReady). A dead droplet the operator listed in lostNodes is not: that one check
# is ignored when the lost are the only NotReady ones; any other keeps it, and kubeadm stops.
apply_ignores() {
  local listing node
  [ -n "$LOST_NODES" ] || return 0
  listing=$(retry kc get nodes -l node-role.kubernetes.io/control-plane \
    -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}')
  while IFS='=' read -r node ready; do
    [ -z "$node" ] || [ "$ready" = True ] || [[ " $LOST_NODES " == *" $node "* ]] || return 0
  done <<<"$listing"
  echo "--ignore-preflight-errors=ControlPlaneNodesReady"
}

# Set while this script has the node drained: a re-run after a failure uncordons it, but a node
# an operator cordoned stays cordoned.
DRAINED=/var/lib/do-k8s-ha/upgrade-drained

if [ "$(kubelet --version 2>/dev/null)" = "Kubernetes v$TARGET" ]; then
  if [ -n "$KUBECONFIG_FILE" ] && [ -f "$DRAINED" ]; then
    retry kc uncordon "$NODE_NAME"
    rm -f "$DRAINED"
  fi
  echo "$NODE_NAME already runs Kubernetes v$TARGET"
  exit 0
fi

echo "upgrading $NODE_NAME to Kubernetes v$TARGET"
kubernetes_repository "$TARGET_MINOR"
apt-mark unhold kubeadm >/dev/null
apt-get -o DPkg::Lock::Timeout=600 install -y -q "kubeadm=${TARGET}-*"
apt-mark hold kubeadm >/dev/null
set_sandbox_image "$TARGET"

if [ "$KUBEADM_UPGRADE" = apply ]; then
  ignore=$(apply_ignores)
  kubeadm upgrade apply --yes ${ignore:+"$ignore"} "v$TARGET"
else
  kubeadm upgrade node
fi

if [ -n "$KUBECONFIG_FILE" ]; then
  mkdir -p "$(dirname "$DRAINED")"
  touch "$DRAINED"
  RETRY_TRIES=3 retry drain_node
fi
apt-mark unhold kubelet kubectl >/dev/null
apt-get -o DPkg::Lock::Timeout=600 install -y -q "kubelet=${TARGET}-*" "kubectl=${TARGET}-*"
apt-mark hold kubelet kubectl >/dev/null
systemctl daemon-reload
systemctl restart kubelet
if [ -n "$KUBECONFIG_FILE" ]; then
  retry kc uncordon "$NODE_NAME"
  rm -f "$DRAINED"
  wait_for "$NODE_NAME" "did not come back Ready"
fi
echo "$NODE_NAME runs Kubernetes v$TARGET"
