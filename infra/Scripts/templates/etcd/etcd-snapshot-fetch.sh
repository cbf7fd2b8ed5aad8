#!/usr/bin/env bash
# Downloads the snapshot a new cluster is restored from (config etcdRestoreFrom: spaces:<object>)
# from the snapshot bucket, with the bucket's own key, for this node's member to start from
# (etcd-member.sh). A member with data of its own restores nothing, and nothing is downloaded.
set -euo pipefail

NODE_NAME={{NODE_NAME}}
DATA_DIR={{DATA_DIR}}
OBJECT={{OBJECT}}
TARGET={{TARGET}}
SPACES_ENDPOINT={{SPACES_ENDPOINT}}
SPACES_REGION={{SPACES_REGION}}
SPACES_BUCKET={{SPACES_BUCKET}}

if [ -d "$DATA_DIR/member" ]; then
  echo "$NODE_NAME's etcd member has its data: nothing to restore"
  exit 0
fi
if [ -f "$TARGET" ]; then
  echo "$NODE_NAME has $TARGET"
  exit 0
fi
install -d -m 0700 "$(dirname "$TARGET")"
partial="$TARGET.partial"
trap 'rm -f "$partial"' EXIT
# S3's API with Signature Version 4, the key on stdin (etcd-snapshot.sh says why).
cat <<'KEY' | curl -fsS --retry 3 --max-time 1800 -K - --aws-sigv4 "aws:amz:$SPACES_REGION:s3" \
  -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
  -o "$partial" "$SPACES_ENDPOINT/$SPACES_BUCKET/$OBJECT" || { echo "could not download $OBJECT from $SPACES_BUCKET" >&2; exit 1; }
user = "{{ACCESS_KEY}}:{{SECRET_KEY}}"
KEY
{{SNAPSHOT_CHECKSUM}}

# A download cut short is not restored.
if ! matches_own_checksum "$partial"; then
  echo "$OBJECT from $SPACES_BUCKET does not match its own checksum: not an etcd snapshot, or cut short" >&2
  exit 1
fi
mv "$partial" "$TARGET"
echo "downloaded $OBJECT from $SPACES_BUCKET to $TARGET on $NODE_NAME"
