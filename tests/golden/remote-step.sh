#!/usr/bin/env bash
# do-k8s-ha remote step. It reaches the node on standard input, never in the command's text:
# pulumi-command puts that text on the SSH command line and prints it in full when a step fails.
# Each script is kept on the node, readable only by root, so an operator can read or re-run it.
set -euo pipefail
# The distribution's umask, whatever the SSH session's: a file a daemon reads as its own user
# (etcd, apt's _apt) must be readable by it. A file that holds a secret gets its mode where it
# is written (install -m, chmod), never from the umask.
umask 022
steps='/var/lib/do-k8s-ha/steps'
install -d -m 0700 "$steps"
cat > "$steps/wait-for-bootstrap.sh" <<'DO_K8S_HA_STEP'
#!/usr/bin/env bash
# Waits for cloud-init to finish preparing the node. cloud-init holds the apt lock while it
# runs, so every later step starts here; waiting on its status beats any fixed sleep.
set -euo pipefail

MARKER='/var/lib/do-k8s-ha/bootstrapped'

if command -v cloud-init >/dev/null 2>&1; then
  rc=0
  cloud-init status --wait >/dev/null || rc=$?
  # 2 is "done, with recoverable errors" (cloud-init 23.4 and later): the marker decides then.
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
    echo "cloud-init failed on $(hostname) (exit $rc): see /var/log/cloud-init-output.log" >&2
    exit 1
  fi
fi
if [ ! -f "$MARKER" ]; then
  echo "node bootstrap did not finish on $(hostname): $MARKER is missing; see /var/log/cloud-init-output.log" >&2
  exit 1
fi
echo "node $(hostname) is bootstrapped (since $(cat "$MARKER"))"
DO_K8S_HA_STEP
chmod 0700 "$steps/wait-for-bootstrap.sh"
"$steps/wait-for-bootstrap.sh" || {
  rc=$?
  echo "do-k8s-ha: step wait-for-bootstrap failed on $(hostname) (exit $rc); read or re-run /var/lib/do-k8s-ha/steps/wait-for-bootstrap.sh there" >&2
  exit "$rc"
}
cat > "$steps/etcd-health.sh" <<'DO_K8S_HA_STEP'
#!/usr/bin/env bash
# Reports etcd's health as kube-apiserver sees it: succeeds while a quorum of members answers
# /health (writes work), or only when all do if REQUIRE_ALL is true, but for LOST_ENDPOINTS
# (members on lostNodes: dead droplets), which may be down; the quorum counts every member.
# Waits up to TIMEOUT_SECONDS.
set -euo pipefail

CLIENT_ENDPOINTS='https://10.240.0.2:2379'
CA_FILE='/etc/kubernetes/pki/etcd/ca.crt'
CERT_FILE='/etc/kubernetes/pki/apiserver-etcd-client.crt'
KEY_FILE='/etc/kubernetes/pki/apiserver-etcd-client.key'
REQUIRE_ALL=true
LOST_ENDPOINTS=''
TIMEOUT_SECONDS=5

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
DO_K8S_HA_STEP
chmod 0700 "$steps/etcd-health.sh"
"$steps/etcd-health.sh" || {
  rc=$?
  echo "do-k8s-ha: step etcd-health failed on $(hostname) (exit $rc); read or re-run /var/lib/do-k8s-ha/steps/etcd-health.sh there" >&2
  exit "$rc"
}
