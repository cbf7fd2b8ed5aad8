#!/usr/bin/env bash
# Installs this node's kubelet serving certificate and key, signed by the program for this node's
# name and VPC address only (components/ClusterPki.cs), and the kubelet drop-in that serves them.
# The API servers and metrics-server trust nothing else for a kubelet (docs/hardening.md). A
# renewed certificate replaces the old one in place, and the kubelet reads it without a restart;
# the kubelet restarts only when its configuration changes (a node from before this step).
set -euo pipefail

NODE_NAME={{NODE_NAME}}
NODE_IP={{NODE_IP}}
DIR={{DIR}}
CONFIG_DIR={{CONFIG_DIR}}

{{CHECK_CREDENTIAL}}

install -d -m 0755 "$(dirname "$DIR")"
install -d -m 0700 "$DIR"
install -d -m 0755 "$CONFIG_DIR"
umask 077
new=$(mktemp -d "$DIR/.new.XXXXXX")
trap 'rm -rf "$new"' EXIT
cat > "$new/ca.crt" <<'PEM'
{{CA_CERT}}
PEM
cat > "$new/serving.crt" <<'PEM'
{{CERT}}
PEM
cat > "$new/serving.key" <<'PEM'
{{KEY}}
PEM

# A certificate the API servers would refuse never lands.
check_credential "the kubelet serving certificate of $NODE_NAME" "the kubelet serving key of $NODE_NAME" "$NODE_IP" "$new/ca.crt" "$new/serving.crt" "$new/serving.key" sslserver

if cmp -s "$new/serving.crt" "$DIR/serving.crt" && cmp -s "$new/serving.key" "$DIR/serving.key"; then
  echo "the kubelet serving certificate of $NODE_NAME is current"
else
  # The key first: a kubelet reloading between the two moves fails that once and reads both later.
  mv "$new/serving.key" "$DIR/serving.key"
  mv "$new/serving.crt" "$DIR/serving.crt"
  echo "installed the kubelet serving certificate of $NODE_NAME for $NODE_IP (until $(openssl x509 -in "$DIR/serving.crt" -noout -enddate | cut -d= -f2))"
fi
mv "$new/ca.crt" "$DIR/ca.crt"
# The kubelet runs as root: the key is root's alone, the certificates public.
chmod 0600 "$DIR/serving.key"
chmod 0644 "$DIR/ca.crt" "$DIR/serving.crt"

config_changed=false
install_config() { # path; content on stdin
  cat > "$1.new"
  chmod 0644 "$1.new"
  if cmp -s "$1.new" "$1"; then
    rm -f "$1.new"
  else
    mv "$1.new" "$1"
    config_changed=true
  fi
}
install_config "$CONFIG_DIR/50-do-k8s-ha-serving.conf" <<'YAML'
{{DROPIN}}
YAML
# kubeadm's kubelet unit reads KUBELET_EXTRA_ARGS from this file and passes nothing else through
# it (10-kubeadm.conf, EnvironmentFile=-/etc/default/kubelet); kubeadm never writes it.
install_config /etc/default/kubelet <<'ENV'
# do-k8s-ha: the kubelet's drop-ins (kubelet-serving.sh).
KUBELET_EXTRA_ARGS=--config-dir={{CONFIG_DIR_PATH}}
ENV

# A node that has not joined yet has no kubelet to tell: its join starts it with the drop-in.
if [ ! -f /etc/kubernetes/kubelet.conf ]; then
  echo "$NODE_NAME's kubelet will serve it from its join"
  exit 0
fi
if [ "$config_changed" = true ]; then
  systemctl restart kubelet
  # What the kubelet got from the CSR API before goes: nothing trusts it now.
  rm -f /var/lib/kubelet/pki/kubelet-server-*.pem
  echo "$NODE_NAME's kubelet restarted to serve its own certificate"
fi

# Done when the kubelet serves this certificate on its port, as the API servers will see it.
served() {
  openssl s_client -connect "$NODE_IP:{{KUBELET_PORT}}" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 2>/dev/null
}
wanted=$(openssl x509 -in "$DIR/serving.crt" -noout -fingerprint -sha256)
for _ in $(seq 1 {{WAIT_SECONDS}}); do
  if [ "$(served || true)" = "$wanted" ]; then
    echo "$NODE_NAME's kubelet serves its own certificate on $NODE_IP:{{KUBELET_PORT}}"
    exit 0
  fi
  sleep 1
done
echo "$NODE_NAME's kubelet does not serve the certificate in $DIR after {{WAIT_SECONDS}}s. Look: 'journalctl -u kubelet', and '$CONFIG_DIR' is passed by /etc/default/kubelet" >&2
exit 1
