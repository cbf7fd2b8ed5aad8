#!/usr/bin/env bash
# Takes this node out of the cluster before its droplet goes: drain, delete the Node object,
# `kubeadm reset`, and the debris kubeadm reset leaves. Tolerates a node or cluster that is
# already gone, with a time limit on every call: removal must never block `pulumi destroy`.
set -euo pipefail

NODE_NAME={{NODE_NAME}}

{{ADMIN_KUBECONFIG_FILE}}

kc() { timeout "$1" kubectl --kubeconfig "$kubeconfig" --request-timeout=20s "${@:2}"; }

if command -v kubectl >/dev/null 2>&1 && kc 30 get node "$NODE_NAME" >/dev/null 2>&1; then
  kc 200 drain "$NODE_NAME" --ignore-daemonsets --delete-emptydir-data --force --timeout=180s \
    || echo "warning: drain of $NODE_NAME did not finish; deleting the node anyway" >&2
  kc 60 delete node "$NODE_NAME" --ignore-not-found \
    || echo "warning: could not delete node $NODE_NAME: run 'kubectl delete node $NODE_NAME'" >&2
else
  echo "node $NODE_NAME is not in the cluster, or no API server answers: nothing to drain"
fi

if command -v kubeadm >/dev/null 2>&1; then
  timeout 120 kubeadm reset --force >/dev/null 2>&1 || echo "warning: kubeadm reset did not finish on $NODE_NAME" >&2
fi
# kubeadm reset leaves CNI config, iptables rules and its own files behind.
rm -rf /etc/cni/net.d /etc/kubernetes/kubeadm
if command -v iptables >/dev/null 2>&1; then
  iptables -F || true
  iptables -t nat -F || true
  iptables -t mangle -F || true
  iptables -X || true
fi
echo "$NODE_NAME left the cluster"
