#!/usr/bin/env bash
# Sets up this etcd node's snapshots: the snapshot's own client certificate (the program
# issues it from the etcd CA), the snapshot tool ({{SNAPSHOT_TOOL}}), the off-site bucket's
# key when there is one, and a systemd timer that runs it every {{EVERY_HOURS}} h. Then takes
# one snapshot, so a setup that cannot snapshot fails the update now, not at the first timer.
set -euo pipefail

NODE_NAME={{NODE_NAME}}
CLIENT_DIR={{CLIENT_DIR}}
OFFSITE={{OFFSITE}}

{{INSTALL_TOOL}}

install -d -m 0755 "$(dirname "$CLIENT_DIR")"
install -d -m 0700 "$CLIENT_DIR"
umask 077
new=$(mktemp -d "$CLIENT_DIR/.new.XXXXXX")
trap 'rm -rf "$new"' EXIT
cat > "$new/ca.crt" <<'PEM'
{{ETCD_CA_CERT}}
PEM
cat > "$new/client.crt" <<'PEM'
{{CLIENT_CERT}}
PEM
cat > "$new/client.key" <<'PEM'
{{CLIENT_KEY}}
PEM
openssl verify -CAfile "$new/ca.crt" "$new/client.crt" >/dev/null
if [ "$(openssl x509 -in "$new/client.crt" -noout -pubkey)" != "$(openssl pkey -in "$new/client.key" -pubout)" ]; then
  echo "the etcd snapshot key of $NODE_NAME does not match its certificate" >&2
  exit 1
fi
for f in ca.crt client.crt client.key; do
  mv "$new/$f" "$CLIENT_DIR/$f"
done
if [ "$OFFSITE" = true ]; then
  cat > "$CLIENT_DIR/offsite.env" <<'ENV'
{{OFFSITE_ENV}}
ENV
else
  rm -f "$CLIENT_DIR/offsite.env"
fi

# The service may write only here (ReadWritePaths=), and systemd refuses to start it if it is missing.
install -d -m 0700 {{SNAPSHOT_DIR}}
umask 022
install_tool {{SNAPSHOT_TOOL}} <<'SCRIPT'
{{SNAPSHOT_SCRIPT}}
SCRIPT
cat > /etc/systemd/system/etcd-snapshot.service <<'UNIT'
{{SERVICE_UNIT}}
UNIT
cat > /etc/systemd/system/etcd-snapshot.timer <<'UNIT'
{{TIMER_UNIT}}
UNIT
systemctl daemon-reload
# Restarted, not only started: an active timer would keep the last period.
systemctl enable etcd-snapshot.timer
systemctl restart etcd-snapshot.timer
systemctl start etcd-snapshot.service
echo "$NODE_NAME snapshots etcd every {{EVERY_HOURS}} h into {{SNAPSHOT_DIR}}"
