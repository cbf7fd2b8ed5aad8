#!/usr/bin/env bash
# Waits for cloud-init to finish preparing the node. cloud-init holds the apt lock while it
# runs, so every later step starts here; waiting on its status beats any fixed sleep.
set -euo pipefail

MARKER={{MARKER}}

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
