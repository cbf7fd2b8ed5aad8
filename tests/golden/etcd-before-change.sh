#!/usr/bin/env bash
# A snapshot of this node's etcd member before the update changes etcd's members, its release or
# Kubernetes' (the program runs this on every etcd node first, and those changes wait for it, as
# Kubespray backs etcd up before an upgrade). A node with no member yet (a new droplet, a new
# cluster) has nothing to keep; a member that is there but cannot be snapshotted stops the update
# before anything changes.
set -euo pipefail

NODE_NAME='node1'
DATA_DIR='/var/lib/etcd'
SNAPSHOT_TOOL='/usr/local/sbin/etcd-snapshot'

if [ ! -d "$DATA_DIR/member" ]; then
  echo "$NODE_NAME has no etcd member yet: nothing to snapshot before the change"
  exit 0
fi
if [ ! -x "$SNAPSHOT_TOOL" ]; then
  # A member set up before snapshots existed (an earlier release): its step comes later.
  echo "$NODE_NAME's etcd member has no snapshot tooling yet: nothing to snapshot before the change"
  exit 0
fi
if ! "$SNAPSHOT_TOOL" before-change; then
  echo "no snapshot of $NODE_NAME's etcd member before the change: nothing is changed. Look: 'systemctl status etcd' there, or take one by hand (docs/backups.md)" >&2
  exit 1
fi
