#!/usr/bin/env bash
# Installs the API server's hardening files (README "Hardening"): the audit policy, Pod Security
# defaults, anonymous access limited to health and discovery, and Secrets encryption. kubeadm
# mounts the folder into the API server and names each file in a flag (kubeadm-cluster.yaml), so
# they are in place before `kubeadm init` or join. A changed encryption file is picked up by a
# running API server within a minute (--encryption-provider-config-automatic-reload); the others
# are read when it starts.
set -euo pipefail

DIR={{DIR}}
AUDIT_DIR={{AUDIT_DIR}}

umask 077
install -d -m 0700 "$DIR"
install -d -m 0700 "$AUDIT_DIR"
changed=()

install_file() { # name; content on stdin
  cat > "$DIR/$1.new"
  if cmp -s "$DIR/$1.new" "$DIR/$1"; then
    rm -f "$DIR/$1.new"
  else
    mv "$DIR/$1.new" "$DIR/$1"
    changed+=("$1")
  fi
}

install_file audit-policy.yaml <<'YAML'
{{AUDIT_POLICY}}
YAML
install_file pod-security.yaml <<'YAML'
{{POD_SECURITY}}
YAML
install_file anonymous-auth.yaml <<'YAML'
{{ANONYMOUS_AUTH}}
YAML
install_file encryption-config.yaml <<'YAML'
{{ENCRYPTION_CONFIG}}
YAML

if [ "${#changed[@]}" -eq 0 ]; then
  echo "API server hardening files are current"
elif [ -f /etc/kubernetes/manifests/kube-apiserver.yaml ]; then
  echo "updated ${changed[*]} in $DIR; encryption-config.yaml is reloaded by the running API server, the others apply when it restarts"
else
  echo "installed ${changed[*]} in $DIR"
fi
