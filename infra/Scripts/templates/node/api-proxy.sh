#!/usr/bin/env bash
# Runs the local API-server proxy as the systemd service kube-apiserver-proxy. A changed list of
# control-plane nodes reloads nginx without dropping connections.
set -euo pipefail

CONF_DIR=/etc/kube-apiserver-proxy
export DEBIAN_FRONTEND=noninteractive

{{RELEASES_WAIT}}

# Node setup ends with the node's downloads in (kubeadm, which comes after it, runs them).
wait_for_releases

if [ ! -f /usr/lib/nginx/modules/ngx_stream_module.so ]; then
  apt-get -o DPkg::Lock::Timeout=600 install -y -q nginx libnginx-mod-stream
  # Only the proxy unit below runs nginx; the distribution's web server stays off.
  systemctl disable --now nginx >/dev/null 2>&1 || true
fi

mkdir -p "$CONF_DIR"
cat > "$CONF_DIR/nginx.conf.new" <<'CONF'
{{NGINX_CONF}}
CONF
nginx -t -q -c "$CONF_DIR/nginx.conf.new"
changed=false
if ! cmp -s "$CONF_DIR/nginx.conf.new" "$CONF_DIR/nginx.conf"; then
  mv "$CONF_DIR/nginx.conf.new" "$CONF_DIR/nginx.conf"
  changed=true
else
  rm -f "$CONF_DIR/nginx.conf.new"
fi

cat > /etc/systemd/system/kube-apiserver-proxy.service <<'UNIT'
[Unit]
Description=Local proxy to the Kubernetes API servers (do-k8s-ha)
After=network-online.target
Wants=network-online.target
Before=kubelet.service

[Service]
ExecStart=/usr/sbin/nginx -c /etc/kube-apiserver-proxy/nginx.conf -g 'daemon off;'
ExecReload=/bin/kill -HUP $MAINPID
Restart=always
RestartSec=2s

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable kube-apiserver-proxy >/dev/null 2>&1
if [ "$changed" = true ] && systemctl is-active --quiet kube-apiserver-proxy; then
  systemctl reload kube-apiserver-proxy
else
  systemctl start kube-apiserver-proxy
fi
echo "API-server proxy on {{LISTEN}} is running"
