#!/usr/bin/env bash
# Runs where `pulumi up` runs, before any droplet or remote step changes: refuses a change of the
# etcd nodes that etcd cannot take in one update. Each new member joins with the membership as it
# finds it, so two joining at once can each count the other or not; and members leave one at a
# time. One added and one removed (a swap, or a rename) is fine. A new cluster (no previous run)
# must start with an odd count.
# Prints the etcd nodes last; pulumi-command hands them to the next run as PULUMI_COMMAND_STDOUT.
set -euo pipefail

TARGET='node1 node2 node3'
PREVIOUS=${PULUMI_COMMAND_STDOUT:-}
PREVIOUS=${PREVIOUS##*$'\n'}

words() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort; }

if [ -n "$PREVIOUS" ]; then
  added=$(comm -13 <(words "$PREVIOUS") <(words "$TARGET") | xargs)
  removed=$(comm -23 <(words "$PREVIOUS") <(words "$TARGET") | xargs)
  if [ "$(wc -w <<<"$added")" -gt 1 ]; then
    echo "do-k8s-ha:nodes: gives the role etcd to $added in one update; etcd takes one new member per update. Fix: give it to one of them, pulumi up, then to the next" >&2
    exit 1
  fi
  if [ "$(wc -w <<<"$removed")" -gt 1 ]; then
    echo "do-k8s-ha:nodes: takes the role etcd from $removed in one update; etcd lets one member go per update. Fix: take it from one of them, pulumi up, then from the next" >&2
    exit 1
  fi
  if [ -n "$added$removed" ]; then
    echo "etcd members: ${added:+adding $added}${added:+${removed:+, }}${removed:+removing $removed}" >&2
  fi
else
  # No previous run: a new cluster. An even count is only a step between odd ones on a live cluster.
  count=$(wc -w <<<"$TARGET")
  if [ $((count % 2)) -eq 0 ]; then
    echo "do-k8s-ha:nodes: gives a new cluster $count etcd nodes, which tolerate as many failures as $((count - 1)) do ($(((count - 1) / 2))); an even count is only a step between odd ones on a live cluster. Fix: give the role etcd to $((count - 1)) or $((count + 1)) nodes" >&2
    exit 1
  fi
fi
echo "$TARGET"
