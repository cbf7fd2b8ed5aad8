#!/usr/bin/env bash
# Runs the local API-server proxy as the systemd service kube-apiserver-proxy. A changed list of
# control-plane nodes reloads nginx without dropping connections.
set -euo pipefail

CONF_DIR=/etc/kube-apiserver-proxy
export DEBIAN_FRONTEND=noninteractive

# Waits for the node's downloads (do-k8s-ha-releases.service, which the releases step started):
# a start of the oneshot returns once its run ends, at once when it already succeeded
# (RemainAfterExit), and runs it again after a failed run (systemctl(1), start). A failure shows
# the unit's own words. Without the unit there is nothing to wait for: a droplet an earlier
# release of the program set up, whose downloads ran in their step (a lost node's replacement
# runs the step it last had).
wait_for_releases() {
  [ -f /etc/systemd/system/do-k8s-ha-releases.service ] || return 0
  if ! systemctl start do-k8s-ha-releases.service; then
    echo "the downloads failed on $(hostname):" >&2
    journalctl -u do-k8s-ha-releases.service -n 20 --no-pager -o cat >&2 || true
    return 1
  fi
}

# Node setup ends with the node's downloads in (kubeadm, which comes after it, runs them).
wait_for_releases

if [ ! -f /usr/lib/nginx/modules/ngx_stream_module.so ]; then
  apt-get -o DPkg::Lock::Timeout=600 install -y -q nginx libnginx-mod-stream
  # Only the proxy unit below runs nginx; the distribution's web server stays off.
  systemctl disable --now nginx >/dev/null 2>&1 || true
fi

mkdir -p "$CONF_DIR"
cat > "$CONF_DIR/nginx.conf.new" <<'CONF'
# do-k8s-ha: local API-server proxy of node3 (Kubespray's nginx-proxy).
# kubelet, kube-proxy and kubeadm reach https://127.0.0.1:6444; nginx spreads them over every API server.
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
error_log stderr notice;
pid /run/kube-apiserver-proxy.pid;
worker_processes 2;
worker_rlimit_nofile 130048;
worker_shutdown_timeout 10s;

events {
  multi_accept on;
  use epoll;
  worker_connections 16384;
}

stream {
  upstream kube_apiserver {
    least_conn;
    server 10.240.0.2:6443 max_fails=1 fail_timeout=10s;
    server 10.240.0.3:6443 max_fails=1 fail_timeout=10s;
  }

  server {
    listen 127.0.0.1:6444;
    proxy_pass kube_apiserver;
    proxy_timeout 10m;
    proxy_connect_timeout 1s;
  }
}
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
echo "API-server proxy on 127.0.0.1:6444 is running"
