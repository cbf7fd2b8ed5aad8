#!/usr/bin/env bash
# The health gate at the end of `pulumi up`: every node Ready, CoreDNS available (as many
# replicas as the DNS autoscaler's minimum, when it runs), NodeLocal DNSCache ready on every
# node (when installed), and the kube-scheduler and kube-controller-manager leases held. Waits up to TIMEOUT_SECONDS, then
# fails naming each check that is still failing and how to look. Prints the lease holders.
# LOST_NODES (lostNodes: dead droplets) are not waited for, nor their DaemonSet pods counted,
# while their Ready condition is Unknown: the node lifecycle controller's mark of a kubelet that
# stopped posting (pkg/controller/nodelifecycle). One whose kubelet posts again (a replacement
# joining under the name) is waited for and counts as any other.
set -euo pipefail

EXPECTED_NODES={{EXPECTED_NODES}}
LOST_NODES={{LOST_NODES}}
TIMEOUT_SECONDS={{TIMEOUT_SECONDS}}
COREDNS_MIN_AVAILABLE={{COREDNS_MIN_AVAILABLE}}
DNS_AUTOSCALER={{DNS_AUTOSCALER}}
NODELOCALDNS={{NODELOCALDNS}}
export KUBECONFIG=/etc/kubernetes/admin.conf

kc() { timeout 30 kubectl --request-timeout=20s "$@"; }

lease_holder() { # lease name; prints the node part of the holder identity (node_uuid)
  local holder
  holder=$(kc -n kube-system get lease "$1" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true)
  echo "${holder%%_*}"
}

deadline=$((SECONDS + TIMEOUT_SECONDS))
while :; do
  problems=()

  not_ready=()
  ready_nodes=()
  unchecked=()
  for node in $EXPECTED_NODES; do
    ready=$(kc get node "$node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
    if [ "$ready" = True ]; then
      ready_nodes+=("$node")
    elif [ "$ready" = Unknown ] && [[ " $LOST_NODES " == *" $node "* ]]; then
      unchecked+=("$node")
    else
      not_ready+=("$node")
    fi
  done
  if [ "${#not_ready[@]}" -gt 0 ]; then
    problems+=("nodes not Ready: ${not_ready[*]}. Look: kubectl describe node ${not_ready[0]}; journalctl -u kubelet on it")
  fi

  available=$(kc -n kube-system get deployment coredns -o jsonpath='{.status.availableReplicas}' 2>/dev/null || true)
  if [ "${available:-0}" -lt "$COREDNS_MIN_AVAILABLE" ]; then
    problems+=("CoreDNS has ${available:-0} available replica(s), wants $COREDNS_MIN_AVAILABLE. Look: kubectl -n kube-system get pods -l k8s-app=kube-dns -o wide")
  fi

  if [ "$DNS_AUTOSCALER" = true ]; then
    scaler=$(kc -n kube-system get deployment dns-autoscaler -o jsonpath='{.status.availableReplicas}' 2>/dev/null || true)
    if [ "${scaler:-0}" -lt 1 ]; then
      problems+=("the DNS autoscaler is not available. Look: kubectl -n kube-system logs deployment/dns-autoscaler")
    fi
  fi

  if [ "$NODELOCALDNS" = true ]; then
    read -r desired ready < <(kc -n kube-system get daemonset node-local-dns -o jsonpath='{.status.desiredNumberScheduled} {.status.numberReady}' 2>/dev/null || true) || true
    # A DaemonSet still wants a pod on a dead node (the add-ons' pods tolerate every taint).
    if [ "${desired:-0}" -lt 1 ] || [ "$((${ready:-0} + ${#unchecked[@]}))" -lt "${desired:-0}" ]; then
      problems+=("NodeLocal DNSCache is ready on ${ready:-0} of ${desired:-0} node(s). Look: kubectl -n kube-system get pods -l k8s-app=node-local-dns -o wide")
    fi
  fi

  scheduler=$(lease_holder kube-scheduler)
  controller_manager=$(lease_holder kube-controller-manager)
  if [ -z "$scheduler" ]; then
    problems+=("no kube-scheduler holds its lease. Look: kubectl -n kube-system get lease kube-scheduler -o yaml")
  fi
  if [ -z "$controller_manager" ]; then
    problems+=("no kube-controller-manager holds its lease. Look: kubectl -n kube-system get lease kube-controller-manager -o yaml")
  fi

  if [ "${#problems[@]}" -eq 0 ]; then
    echo "cluster is healthy: nodes Ready: ${ready_nodes[*]}"
    [ "${#unchecked[@]}" -eq 0 ] || echo "not checked (lostNodes): ${unchecked[*]}"
    echo "scheduler-leader=$scheduler"
    echo "controller-manager-leader=$controller_manager"
    exit 0
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "the cluster is not healthy after ${TIMEOUT_SECONDS}s:" >&2
    printf '  - %s\n' "${problems[@]}" >&2
    exit 1
  fi
  sleep 5
done
