#!/usr/bin/env bash
# Takes a snapshot of this node's etcd member, checks it, keeps the newest of its kind and, when
# an off-site bucket is configured, uploads it. Installed as the snapshot tool (Render.EtcdSnapshotTool) by
# etcd-snapshots.sh; run by etcd-snapshot.service (its timer) as "scheduled", and by the program
# before a change of etcd's members or of a release as "before-change".
set -euo pipefail

NODE_NAME={{NODE_NAME}}
ENDPOINT={{ENDPOINT}}
SNAPSHOT_DIR={{SNAPSHOT_DIR}}
CLIENT_DIR={{CLIENT_DIR}}
KEEP={{KEEP}}
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

{{SNAPSHOT_CHECKSUM}}

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
if ! etcdctl 10 put "{{RECORD_PREFIX}}$NODE_NAME" "$(date -u +%s)" >/dev/null 2>&1; then
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
