#!/usr/bin/env bash
# Runs on a control-plane node, with its own admin credential, before worker NODE_NAME joins: a
# Node of that name left by a machine the new droplet replaces (dead, or its departure did not
# finish) is deleted, so the new machine registers afresh and the old one's pods are cleaned up
# instead of being adopted. A Node is the new droplet's own when its kubelet labelled it with
# DROPLET_ID at join; one without the label is only deleted when it is not Ready. The worker
# itself needs no cluster credential for this (NodeRestriction keeps kubelets to their own Node).
set -euo pipefail

NODE_NAME={{NODE_NAME}}
DROPLET_ID={{DROPLET_ID}}
KUBECONFIG_FILE={{KUBECONFIG_FILE}}

kc() { timeout 90 kubectl --kubeconfig "$KUBECONFIG_FILE" --request-timeout=20s "$@"; }

if ! state=$(kc get node "$NODE_NAME" -o jsonpath='{.metadata.labels.do-k8s-ha\.io/droplet}/{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null); then
  echo "no Node $NODE_NAME in the cluster: nothing left by an earlier machine"
  exit 0
fi
droplet=${state%%/*}
ready=${state#*/}
if [ "$droplet" = "$DROPLET_ID" ]; then
  echo "Node $NODE_NAME is this droplet's own"
elif [ -z "$droplet" ] && [ "$ready" = True ]; then
  echo "Node $NODE_NAME is Ready and names no droplet: left alone"
else
  kc delete node "$NODE_NAME" --ignore-not-found >/dev/null
  echo "deleted the Node object $NODE_NAME left by the machine droplet $DROPLET_ID replaces"
fi
