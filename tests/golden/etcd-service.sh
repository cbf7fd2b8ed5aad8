#!/usr/bin/env bash
# Runs etcd as a systemd service, as its own user in a sandbox, restarting it only when its
# configuration, unit or release asks for it. The members' service steps run one after another
# (the engine chains them), and a restart happens only while every member is healthy and ends
# only once this member is healthy again: a change never takes two members down at once, and a
# member that does not come back stops the roll before the next.
set -euo pipefail

CONFIG='/etc/etcd/etcd.conf.yml'
DATA_DIR='/var/lib/etcd'
NODE_IP='10.240.0.2'
PKI_DIR='/etc/etcd/pki'
ETCDCTL='/usr/local/bin/etcdctl'

member_etcdctl() {
  ETCDCTL_API=3 timeout 10 "$ETCDCTL" --dial-timeout 3s --command-timeout 5s \
    --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/member.crt" --key "$PKI_DIR/member.key" "$@"
}

cat > /etc/systemd/system/etcd.service.new <<UNIT
[Unit]
Description=etcd key-value store (do-k8s-ha)
Documentation=https://etcd.io/docs/
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
ExecStart=/usr/local/bin/etcd --config-file ${CONFIG}
Restart=always
RestartSec=5s
# A member that has lost its quorum can outlive SIGTERM (seen with 3.4): a stop waits this long,
# then kills it, where systemd's default would wait 90 s.
TimeoutStopSec=30s
LimitNOFILE=40000
# Its own user, owning only its data and key (etcd-member.sh, etcd-certs.sh), and a sandbox:
# it needs no privilege, writes only its data, and listens on TCP only.
User=etcd
Group=etcd
UMask=0077
NoNewPrivileges=true
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ReadWritePaths=${DATA_DIR}
ProtectHome=true
PrivateTmp=true
PrivateDevices=true
ProtectKernelTunables=true
ProtectKernelModules=true
ProtectKernelLogs=true
ProtectControlGroups=true
ProtectClock=true
ProtectHostname=true
RestrictNamespaces=true
RestrictRealtime=true
RestrictSUIDSGID=true
LockPersonality=true
RemoveIPC=true
PrivateMounts=true
ProtectProc=invisible
MemoryDenyWriteExecute=true
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
SystemCallArchitectures=native
SystemCallFilter=@system-service

[Install]
WantedBy=multi-user.target
UNIT
if ! cmp -s /etc/systemd/system/etcd.service.new /etc/systemd/system/etcd.service; then
  mv /etc/systemd/system/etcd.service.new /etc/systemd/system/etcd.service
  touch "$CONFIG.restart"
else
  rm -f /etc/systemd/system/etcd.service.new
fi
systemctl daemon-reload
systemctl enable etcd >/dev/null 2>&1
if [ -f "$CONFIG.restart" ] && systemctl is-active --quiet etcd; then
  # --cluster: every member the member list names with client URLs (one announced but not
  # started yet has none); non-zero when any of them is unhealthy.
  if ! health=$(member_etcdctl --endpoints "https://${NODE_IP}:2379" endpoint health --cluster 2>&1); then
    echo "etcd: not restarting the member on ${NODE_IP} while a member is unhealthy (two down would cost the quorum); it runs on with its old configuration until this step runs again:" >&2
    echo "$health" >&2
    exit 1
  fi
  systemctl restart --no-block etcd
  rm -f "$CONFIG.restart"
  for _ in $(seq 1 60); do
    if member_etcdctl --endpoints "https://${NODE_IP}:2379" endpoint health >/dev/null 2>&1; then
      echo "etcd is restarted and healthy"
      exit 0
    fi
    sleep 2
  done
  echo "etcd on ${NODE_IP} is not healthy 120 s after its restart; no other member was touched. Look: journalctl -u etcd" >&2
  exit 1
fi
# --no-block: a new member waits for its peers to form a quorum; the health gate waits for that.
systemctl start --no-block etcd
rm -f "$CONFIG.restart"
echo "etcd is started"
