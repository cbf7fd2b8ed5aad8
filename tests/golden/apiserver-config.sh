#!/usr/bin/env bash
# Installs the API server's hardening files (README "Hardening"): the audit policy, Pod Security
# defaults, anonymous access limited to health and discovery, and Secrets encryption. kubeadm
# mounts the folder into the API server and names each file in a flag (kubeadm-cluster.yaml), so
# they are in place before `kubeadm init` or join. A changed encryption file is picked up by a
# running API server within a minute (--encryption-provider-config-automatic-reload); the others
# are read when it starts.
set -euo pipefail

DIR='/etc/kubernetes/hardening'
AUDIT_DIR='/var/log/kubernetes/audit'

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
# do-k8s-ha: the API servers' audit policy (README "Hardening"). The first rule that matches a
# request decides its level.
apiVersion: audit.k8s.io/v1
kind: Policy
# Each request is logged once it is answered, not also when it arrives.
omitStages: [RequestReceived]
rules:
  # Health probes and the version: many a second, from the kubelet and the load balancer.
  - level: None
    nonResourceURLs: [/healthz*, /livez*, /readyz*, /version]
  # Every kubelet renews its lease every 10 s: noise, not events.
  - level: None
    userGroups: [system:nodes]
    verbs: [get, update]
    resources:
      - group: coordination.k8s.io
        resources: [leases]
  # Objects that hold credentials: who did what and when, never the bodies, whatever comes below.
  - level: Metadata
    resources:
      - group: ""
        resources: [secrets, configmaps, serviceaccounts/token]
      - group: authentication.k8s.io
        resources: [tokenreviews]
      - group: certificates.k8s.io
        resources: [certificatesigningrequests]
  # Everything else: metadata (user, verb, object, response code).
  - level: Metadata
YAML
install_file pod-security.yaml <<'YAML'
# do-k8s-ha: the API servers' admission configuration: Pod Security Admission's cluster-wide
# defaults. A namespace's own pod-security.kubernetes.io labels override them.
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: PodSecurity
    configuration:
      apiVersion: pod-security.admission.config.k8s.io/v1
      kind: PodSecurityConfiguration
      defaults:
        enforce: baseline
        enforce-version: latest
        warn: restricted
        warn-version: latest
        audit: restricted
        audit-version: latest
      exemptions:
        usernames: []
        runtimeClasses: []
        namespaces: [kube-system, tigera-operator, calico-system]
YAML
install_file anonymous-auth.yaml <<'YAML'
# do-k8s-ha: the API servers' authentication configuration. Anonymous requests reach only the
# health endpoints (the kubelet's probes, the load balancer's /readyz) and cluster-info, which
# kubeadm's token discovery reads before it has a credential (discovery/token/token.go).
# Everything else needs a credential, whatever RBAC grants system:anonymous.
apiVersion: apiserver.config.k8s.io/v1beta1
kind: AuthenticationConfiguration
anonymous:
  enabled: true
  conditions:
    - path: /livez
    - path: /readyz
    - path: /healthz
    - path: /api/v1/namespaces/kube-public/configmaps/cluster-info
YAML
install_file encryption-config.yaml <<'YAML'
# do-k8s-ha: how the API servers encrypt Secrets in etcd. secretbox (XSalsa20 and Poly1305) with
# the program's keys: the first encrypts, every one decrypts. identity last: Secrets written
# before encryption was on stay readable until rewritten (README "Secrets encryption keys").
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - secretbox:
          keys:
            - name: key2
              secret: AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=
            - name: key1
              secret: AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=
      - identity: {}
YAML

if [ "${#changed[@]}" -eq 0 ]; then
  echo "API server hardening files are current"
elif [ -f /etc/kubernetes/manifests/kube-apiserver.yaml ]; then
  echo "updated ${changed[*]} in $DIR; encryption-config.yaml is reloaded by the running API server, the others apply when it restarts"
else
  echo "installed ${changed[*]} in $DIR"
fi
