#!/usr/bin/env bash
# Reports etcd's health as kube-apiserver sees it: succeeds while a quorum of members answers
# /health (writes work), or only when all do if REQUIRE_ALL is true, but for LOST_ENDPOINTS
# (members on lostNodes: dead droplets), which may be down; the quorum counts every member.
# Waits up to TIMEOUT_SECONDS.
set -euo pipefail

CLIENT_ENDPOINTS={{CLIENT_ENDPOINTS}}
CA_FILE={{CA_FILE}}
CERT_FILE={{CERT_FILE}}
KEY_FILE={{KEY_FILE}}
REQUIRE_ALL={{REQUIRE_ALL}}
LOST_ENDPOINTS={{LOST_ENDPOINTS}}
TIMEOUT_SECONDS={{TIMEOUT_SECONDS}}

IFS=',' read -r -a endpoints <<<"$CLIENT_ENDPOINTS"
total=${#endpoints[@]}
quorum=$((total / 2 + 1))
deadline=$((SECONDS + TIMEOUT_SECONDS))
while :; do
  down=()
  unhealthy=()
  for endpoint in "${endpoints[@]}"; do
    if ! body=$(curl -sS --max-time 3 --cacert "$CA_FILE" --cert "$CERT_FILE" --key "$KEY_FILE" "$endpoint/health" 2>/dev/null); then
      down+=("$endpoint")
    elif ! grep -q '"health":"true"' <<<"$body"; then
      # It answers, but without a leader: it cannot serve writes.
      unhealthy+=("$endpoint")
    fi
  done
  healthy=$((total - ${#down[@]} - ${#unhealthy[@]}))
  report=""
  [ "${#down[@]}" -eq 0 ] || report+="; not answering: ${down[*]}"
  [ "${#unhealthy[@]}" -eq 0 ] || report+="; answering without a leader: ${unhealthy[*]}"
  if [ "$healthy" -eq "$total" ]; then
    echo "etcd is healthy: ${healthy}/${total} members"
    exit 0
  fi
  passed_by=true
  for endpoint in "${down[@]}" "${unhealthy[@]}"; do
    [[ ",$LOST_ENDPOINTS," == *",$endpoint,"* ]] || passed_by=false
  done
  if [ "$passed_by" = true ] && [ "$healthy" -ge "$quorum" ]; then
    echo "etcd is healthy but for lostNodes: ${healthy}/${total} members healthy${report}"
    exit 0
  fi
  if [ "$REQUIRE_ALL" != true ] && [ "$healthy" -ge "$quorum" ]; then
    echo "etcd has quorum: ${healthy}/${total} members healthy${report}"
    exit 0
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    if [ "$healthy" -ge "$quorum" ]; then
      echo "etcd is degraded: ${healthy}/${total} members healthy (quorum holds)${report}" >&2
    else
      echo "etcd has lost quorum: ${healthy}/${total} members healthy, ${quorum} needed; writes fail${report}" >&2
    fi
    echo "look: 'journalctl -u etcd' on those members, and 'etcdctl endpoint health --cluster'" >&2
    exit 1
  fi
  sleep 2
done
