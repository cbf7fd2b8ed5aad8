#!/usr/bin/env bash
# Runs etcd as a systemd service, as its own user in a sandbox, restarting it only when its
# configuration asks for it.
set -euo pipefail

CONFIG={{CONFIG}}
DATA_DIR={{DATA_DIR}}

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
# --no-block: a new member waits for its peers to form a quorum; the health check waits for that.
if [ -f "$CONFIG.restart" ] && systemctl is-active --quiet etcd; then
  systemctl restart --no-block etcd
else
  systemctl start --no-block etcd
fi
rm -f "$CONFIG.restart"
echo "etcd is started"
