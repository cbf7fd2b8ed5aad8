#!/usr/bin/env bash
# Sets up this etcd node's snapshots: the snapshot's own client certificate (the program
# issues it from the etcd CA), the snapshot tool (/usr/local/sbin/etcd-snapshot), the off-site bucket's
# key when there is one, and a systemd timer that runs it every 6 h. Then takes
# one snapshot, so a setup that cannot snapshot fails the update now, not at the first timer.
set -euo pipefail

NODE_NAME='node1'
CLIENT_DIR='/etc/etcd/snapshot'
OFFSITE=true

# Puts the script on stdin at the path given, mode 0755, whole or not at all: it is written beside
# the path and moved over it, so a unit that starts meanwhile runs the old script or the new one,
# never a part of one.
install_tool() { # path
  cat > "$1.new"
  chmod 0755 "$1.new"
  mv -f "$1.new" "$1"
}

install -d -m 0755 "$(dirname "$CLIENT_DIR")"
install -d -m 0700 "$CLIENT_DIR"
umask 077
new=$(mktemp -d "$CLIENT_DIR/.new.XXXXXX")
trap 'rm -rf "$new"' EXIT
cat > "$new/ca.crt" <<'PEM'
-----BEGIN CERTIFICATE-----
PLACEHOLDER-etcd-ca
-----END CERTIFICATE-----
PEM
cat > "$new/client.crt" <<'PEM'
-----BEGIN CERTIFICATE-----
PLACEHOLDER-etcd-member
-----END CERTIFICATE-----
PEM
cat > "$new/client.key" <<'PEM'
-----BEGIN RSA PRIVATE KEY-----
PLACEHOLDER-etcd-member-key
-----END RSA PRIVATE KEY-----
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
SPACES_ENDPOINT='https://lon1.digitaloceanspaces.com'
SPACES_REGION='lon1'
SPACES_BUCKET='k8s-dev-snapshots'
SPACES_ACCESS_KEY='DO00GOLDENACCESSKEY'
SPACES_SECRET_KEY='golden/secret+key'
ENV
else
  rm -f "$CLIENT_DIR/offsite.env"
fi

# The service may write only here (ReadWritePaths=), and systemd refuses to start it if it is missing.
install -d -m 0700 /var/lib/etcd-snapshots
umask 022
install_tool /usr/local/sbin/etcd-snapshot <<'SCRIPT'
#!/usr/bin/env bash
# Takes a snapshot of this node's etcd member, checks it, keeps the newest of its kind and, when
# an off-site bucket is configured, uploads it. Installed as the snapshot tool (Render.EtcdSnapshotTool) by
# etcd-snapshots.sh; run by etcd-snapshot.service (its timer) as "scheduled", and by the program
# before a change of etcd's members or of a release as "before-change".
set -euo pipefail

NODE_NAME='node1'
ENDPOINT='https://127.0.0.1:2379'
SNAPSHOT_DIR='/var/lib/etcd-snapshots'
CLIENT_DIR='/etc/etcd/snapshot'
KEEP=8
BIN_DIR=/usr/local/bin
KIND=${1:-scheduled}
case "$KIND" in
  scheduled | before-change) ;;
  *) echo "etcd-snapshot: unknown kind '$KIND' (scheduled or before-change)" >&2; exit 2 ;;
esac

umask 077
install -d -m 0700 "$SNAPSHOT_DIR"
name="$NODE_NAME-$(date -u +%Y%m%dT%H%M%SZ)-$KIND.db"
# One a second at most: a second one within it waits, so no snapshot replaces another.
while [ -e "$SNAPSHOT_DIR/$name" ]; do
  sleep 1
  name="$NODE_NAME-$(date -u +%Y%m%dT%H%M%SZ)-$KIND.db"
done
partial="$SNAPSHOT_DIR/.$name.partial"
trap 'rm -f "$partial" "$partial.part"' EXIT

# The member's own client port, with a client certificate of the snapshot's own (not the member's).
etcdctl() { # command timeout, arguments
  local wait=$1
  shift
  ETCDCTL_API=3 timeout $((wait + 10)) "$BIN_DIR/etcdctl" --endpoints "$ENDPOINT" --dial-timeout 5s --command-timeout "${wait}s" \
    --cacert "$CLIENT_DIR/ca.crt" --cert "$CLIENT_DIR/client.crt" --key "$CLIENT_DIR/client.key" "$@"
}
# First whether it answers: `snapshot save` keeps dialling a member that is down until its
# command timeout (etcdctl 3.4 ignores --dial-timeout there), which must allow for a large database.
if ! etcdctl 10 endpoint status >/dev/null 2>&1 || ! etcdctl 590 snapshot save "$partial" >/dev/null 2>&1; then
  echo "etcd-snapshot: $NODE_NAME's member at $ENDPOINT gave no snapshot" >&2
  exit 1
fi

# Whether an etcd snapshot file ends with the sha256 of the rest, which the server appends to
# every snapshot it streams; restore checks the same (etcdutl snapshot/v3_snapshot.go,
# hasChecksum and copyAndVerifyDB), so a snapshot cut short or altered is never kept or restored.
matches_own_checksum() { # file
  local size
  size=$(stat -c %s "$1")
  [ $((size % 512)) -eq 32 ] \
    && [ "$(head -c $((size - 32)) "$1" | sha256sum | cut -d' ' -f1)" = "$(tail -c 32 "$1" | od -An -tx1 | tr -d ' \n')" ]
}

if ! matches_own_checksum "$partial"; then
  echo "etcd-snapshot: the snapshot of $NODE_NAME's member does not match its own checksum" >&2
  exit 1
fi
# And the database opens: etcd 3.6 moved `snapshot status` from etcdctl to etcdutl
# (CHANGELOG-3.6.md), which the 3.5 release carries too; a 3.4 release has only etcdctl's.
if [ -x "$BIN_DIR/etcdutl" ]; then
  status=$("$BIN_DIR/etcdutl" snapshot status -w json "$partial")
else
  status=$(ETCDCTL_API=3 "$BIN_DIR/etcdctl" snapshot status -w json "$partial" 2>/dev/null)
fi
keys=$(sed -nE 's/.*"totalKey":([0-9]+).*/\1/p' <<<"$status")
revision=$(sed -nE 's/.*"revision":([0-9]+).*/\1/p' <<<"$status")
if [ -z "$keys" ] || [ "$keys" -eq 0 ]; then
  echo "etcd-snapshot: the snapshot of $NODE_NAME's member holds no keys: $status" >&2
  exit 1
fi
mv "$partial" "$SNAPSHOT_DIR/$name"
echo "etcd-snapshot: $SNAPSHOT_DIR/$name ($keys keys, revision $revision, $(stat -c %s "$SNAPSHOT_DIR/$name") bytes)"
# When, in etcd itself, where the health gate reads the newest of every node's (etcd-snapshot-age.sh).
if ! etcdctl 10 put "/do-k8s-ha/snapshots/$NODE_NAME" "$(date -u +%s)" >/dev/null 2>&1; then
  echo "etcd-snapshot: the snapshot is kept, but its time could not be recorded in etcd" >&2
fi

# The newest KEEP of this kind stay (the names sort by time).
find "$SNAPSHOT_DIR" -maxdepth 1 -name "$NODE_NAME-*-$KIND.db" -printf '%f\n' | sort -r | tail -n +$((KEEP + 1)) \
  | while read -r old; do rm -f "${SNAPSHOT_DIR:?}/$old"; done

# Off-site: S3's API with Signature Version 4 (curl --aws-sigv4, 7.75 or later). curl 7.88 signs
# the payload only with x-amz-content-sha256 given (its changelog: "consult x-%s-content-sha256").
# The key pair reaches curl on stdin, never on a command line another user could read.
if [ -f "$CLIENT_DIR/offsite.env" ]; then
  # shellcheck source=/dev/null
  . "$CLIENT_DIR/offsite.env"
  object="etcd/$name"
  printf 'user = "%s:%s"\n' "$SPACES_ACCESS_KEY" "$SPACES_SECRET_KEY" \
    | curl -fsS --retry 3 --max-time 1800 -K - --aws-sigv4 "aws:amz:$SPACES_REGION:s3" \
      -H "x-amz-content-sha256: $(sha256sum "$SNAPSHOT_DIR/$name" | cut -d' ' -f1)" \
      -T "$SNAPSHOT_DIR/$name" "$SPACES_ENDPOINT/$SPACES_BUCKET/$object" >/dev/null || {
    echo "etcd-snapshot: could not upload $name to $SPACES_BUCKET (it is kept on $NODE_NAME)" >&2
    exit 1
  }
  echo "etcd-snapshot: uploaded to $SPACES_BUCKET as $object"
fi
SCRIPT
cat > /etc/systemd/system/etcd-snapshot.service <<'UNIT'
[Unit]
Description=etcd snapshot of this node's member (do-k8s-ha)
Documentation=https://etcd.io/docs/latest/op-guide/recovery/
After=etcd.service network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/etcd-snapshot scheduled
# Root (its client key and snapshots are root's alone) with no capability, sandboxed: it writes only its snapshots.
UMask=0077
NoNewPrivileges=true
ProtectSystem=strict
ReadWritePaths=/var/lib/etcd-snapshots
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
MemoryDenyWriteExecute=true
PrivateMounts=true
ProtectProc=invisible
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
SystemCallArchitectures=native
CapabilityBoundingSet=
UNIT
cat > /etc/systemd/system/etcd-snapshot.timer <<'UNIT'
[Unit]
Description=etcd snapshot every 6 h (do-k8s-ha)

[Timer]
OnBootSec=15min
OnUnitActiveSec=6h
# The members of one cluster do not all snapshot in the same minute.
RandomizedDelaySec=10min

[Install]
WantedBy=timers.target
UNIT
systemctl daemon-reload
# Restarted, not only started: an active timer would keep the last period.
systemctl enable etcd-snapshot.timer
systemctl restart etcd-snapshot.timer
systemctl start etcd-snapshot.service
echo "$NODE_NAME snapshots etcd every 6 h into /var/lib/etcd-snapshots"
