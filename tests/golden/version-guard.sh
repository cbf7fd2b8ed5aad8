#!/usr/bin/env bash
# Runs where `pulumi up` runs, before any droplet or remote step changes: refuses a change of
# kubernetesVersion that kubeadm cannot make — going back, or skipping a minor release.
# Prints the version last; pulumi-command hands it to the next run as PULUMI_COMMAND_STDOUT.
set -euo pipefail

TARGET='1.35.1'
PREVIOUS=${PULUMI_COMMAND_STDOUT:-}
PREVIOUS=${PREVIOUS##*$'\n'}

if [ -n "$PREVIOUS" ] && [ "$PREVIOUS" != "$TARGET" ]; then
  IFS=. read -r target_major target_minor target_patch <<<"$TARGET"
  IFS=. read -r previous_major previous_minor previous_patch <<<"$PREVIOUS"
  if [ "$target_major" -ne "$previous_major" ] || [ "$target_minor" -lt "$previous_minor" ] \
    || { [ "$target_minor" -eq "$previous_minor" ] && [ "$target_patch" -lt "$previous_patch" ]; }; then
    echo "do-k8s-ha:kubernetesVersion: $PREVIOUS -> $TARGET goes back; kubeadm cannot downgrade a cluster. Fix: pulumi config set kubernetesVersion $PREVIOUS" >&2
    exit 1
  fi
  if [ "$target_minor" -gt $((previous_minor + 1)) ]; then
    echo "do-k8s-ha:kubernetesVersion: $PREVIOUS -> $TARGET skips a minor release; kubeadm upgrades one minor at a time. Fix: pulumi config set kubernetesVersion $previous_major.$((previous_minor + 1)).<patch>, pulumi up, then $TARGET" >&2
    exit 1
  fi
  echo "upgrading Kubernetes $PREVIOUS -> $TARGET, one node at a time" >&2
fi
echo "$TARGET"
