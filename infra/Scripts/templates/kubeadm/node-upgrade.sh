#!/usr/bin/env bash
# Upgrades this node to TARGET as part of a rolling upgrade: TARGET's kubeadm, `kubeadm upgrade
# apply` (first control-plane node) or `kubeadm upgrade node`, drain, the container runtime the
# checksum table pairs with TARGET (containerd 2 and its version 3 config; on a node an earlier
# release set up from the distribution's packages, those packages make way first), kubelet and
# kubectl, uncordon, then it waits until this node is Ready. Every file is TARGET's from the
# release cache (the node's releases step fetched them; a file missing there is fetched here). A
# control-plane node drains and uncordons itself with its own admin.conf (KUBECONFIG_FILE); a
# worker has no such credential (KUBECONFIG_FILE is empty): a control-plane node drains it before
# this step and uncordons it after (worker-drain.sh).
# The order is the engine's: each step depends on the one before it, so this script never waits
# for another node (it would hold an engine slot while waiting). A node already on TARGET is
# left alone, so a second run changes nothing.
set -euo pipefail

NODE_NAME={{NODE_NAME}}
TARGET={{TARGET}}
KUBEADM_UPGRADE={{KUBEADM_UPGRADE}}
LOST_NODES={{LOST_NODES}}
WAIT_SECONDS={{WAIT_SECONDS}}
export DEBIAN_FRONTEND=noninteractive

KUBECONFIG_FILE={{KUBECONFIG_FILE}}

kc() { timeout 60 kubectl --kubeconfig "$KUBECONFIG_FILE" --request-timeout=20s "$@"; }

{{RETRY}}

{{DRAIN_NODE}}

{{RELEASE_FETCH}}

{{RELEASES_WAIT}}

{{RELEASE_INSTALL}}

# An earlier release of this program installed kubeadm, kubelet, kubectl (held, from pkgs.k8s.io),
# containerd and runc from packages. They are removed before the release files take their
# places, so that no package removal takes a file of them later (kubernetes-cni's /opt/cni/bin).
# Removing containerd's package stops the service: its containers keep running (KillMode=process)
# and the containerd started next finds them and its images (root /var/lib/containerd, kept: a
# removal keeps what the package did not ship).
# An installed package is one whose status word is "installed": ${Status} is "want eflag status",
# and the want of a held package is "hold" (apt-mark hold), not "install" (dpkg-query(1),
# db:Status-Status), as kubelet, kubeadm and kubectl were held.
retire_packages() {
  local installed=() p
  for p in kubelet kubeadm kubectl kubernetes-cni cri-tools containerd runc; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ]; then
      installed+=("$p")
    fi
  done
  [ "${#installed[@]}" -gt 0 ] || return 0
  apt-mark unhold "${installed[@]}" >/dev/null 2>&1 || true
  apt-get -o DPkg::Lock::Timeout=600 remove -y -q "${installed[@]}"
  echo "removed the distribution's ${installed[*]}: the release files replace them"
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
# The releases step's unit fills the cache with TARGET's files: this step finds them there once it
# ended, and never fetches a file beside it.
wait_for_releases
fetch_releases <<'FILES'
{{FILES}}
FILES
# kubeadm upgrade runs TARGET's kubeadm, which the package's (older, first on no PATH) is not.
install_kubernetes kubeadm

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
retire_packages
sandbox=$(sandbox_image "$TARGET")
install_runtime "$sandbox"
install_kubernetes kubelet kubectl
install_kubelet_unit
systemctl restart kubelet
if [ -n "$KUBECONFIG_FILE" ]; then
  retry kc uncordon "$NODE_NAME"
  rm -f "$DRAINED"
  wait_for "$NODE_NAME" "did not come back Ready"
fi
echo "$NODE_NAME runs Kubernetes v$TARGET"
