#!/usr/bin/env bash
# Runs on a control-plane node after NODE_NAME's join: its token has done its work.
set -euo pipefail

NODE_NAME={{NODE_NAME}}
TOKEN_ID={{TOKEN_ID}}

if [ -n "$TOKEN_ID" ] && [ -f /etc/kubernetes/admin.conf ]; then
  kubeadm token delete "$TOKEN_ID" >/dev/null 2>&1 || true
fi
echo "the join token of $NODE_NAME is gone"
