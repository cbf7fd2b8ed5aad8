#!/usr/bin/env bash
# Runs on a control-plane node with its own admin.conf: mints a bootstrap token for one join of
# NODE_NAME, valid for TTL, and prints it (the step's only stdout, kept secret in the state).
# Tokens of earlier joins of the node go first: one live token per joining node, deleted after
# its join (join-token-delete.sh), expiring anyway. Before the cluster exists (the first
# control-plane node's token, minted on another node: MAY_PRECEDE_CLUSTER) it prints nothing:
# that node creates the cluster and needs none. Any other token is minted once the cluster
# exists, through the balancer's relay on a node it admits: one that is no control-plane node
# yet fails the step, rather than hand the join no token. Discovery pins the cluster CA, which
# the program owns, so a node can still join any day: a replaced droplet gets a new token.
set -euo pipefail

NODE_NAME='node3'
TTL='1h0m0s'
MAY_PRECEDE_CLUSTER=false
DESCRIPTION="do-k8s-ha join of $NODE_NAME"

if [ ! -f /etc/kubernetes/admin.conf ]; then
  if [ "$MAY_PRECEDE_CLUSTER" = true ]; then
    echo "$(hostname) is no control-plane node yet: no token for $NODE_NAME (it creates the cluster)" >&2
    exit 0
  fi
  echo "$(hostname) is no control-plane node of the cluster yet: it cannot mint $NODE_NAME's join token. Run pulumi up again" >&2
  exit 1
fi
for token in $(kubeadm token list 2>/dev/null | awk -v d="$DESCRIPTION" 'index($0, d) {print $1}'); do
  kubeadm token delete "${token%%.*}" >/dev/null 2>&1 || true
done
kubeadm token create --ttl "$TTL" --description "$DESCRIPTION"
