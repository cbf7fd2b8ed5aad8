#!/usr/bin/env bats
# The failover drill against stand-in pulumi, kubectl and doctl: the lease holders move once the
# droplet is deleted, as they do on a real cluster.

setup() {
  stubs=$(mktemp -d)
  state=$(mktemp -d)
  export STATE="$state"
  cat > "$stubs/pulumi" <<'STUB'
#!/usr/bin/env bash
echo "apiVersion: v1"
STUB
  cat > "$stubs/doctl" <<'STUB'
#!/usr/bin/env bash
case "$*" in
  "compute droplet list --format ID,Name --no-header") printf '101 node1\n102 node2\n103 node3\n' ;;
  "compute droplet delete --force 101") touch "$STATE/deleted" ;;
  *) echo "unexpected doctl $*" >&2; exit 9 ;;
esac
STUB
  cat > "$stubs/kubectl" <<'STUB'
#!/usr/bin/env bash
case "$*" in
  *"get lease"*)
    if [ -f "$STATE/deleted" ]; then
      polls=$(cat "$STATE/polls" 2>/dev/null || echo 0)
      echo $((polls + 1)) > "$STATE/polls"
      # The old leader's lease runs out after a few polls, then node2 takes it.
      if [ "$polls" -lt 4 ]; then echo "node1_aaaa"; else echo "node2_bbbb"; fi
    else
      echo "node1_aaaa"
    fi ;;
  *"get --raw /livez"*) echo ok ;;
  "get nodes -o wide") echo "node1 Ready" ;;
  *) echo "unexpected kubectl $*" >&2; exit 9 ;;
esac
STUB
  chmod +x "$stubs"/*
  export PATH="$stubs:$PATH"
  export POLL_SECONDS=0 TIMEOUT_SECONDS=30
  drill="$BATS_TEST_DIRNAME/../../scripts/failover-drill.sh"
}

teardown() {
  rm -rf "$stubs" "$state"
}

@test "the leases move away from the destroyed node" {
  run "$drill" --yes node1
  [ "$status" -eq 0 ]
  [[ "$output" == *"before: kube-scheduler leader: node1"* ]]
  [[ "$output" == *"failover complete"* ]]
  [[ "$output" == *"To bring node1 back: pulumi refresh --yes && pulumi up"* ]]
  [ -f "$STATE/deleted" ]
}

@test "nothing is destroyed without a yes" {
  run bash -c "echo n | '$drill' node1"
  [ "$status" -eq 0 ]
  [[ "$output" == *"nothing destroyed"* ]]
  [ ! -f "$STATE/deleted" ]
}

@test "an unknown node is refused" {
  run "$drill" --yes node9
  [ "$status" -eq 2 ]
  [[ "$output" == *"no droplet named node9"* ]]
}

@test "a failover that never happens fails the drill" {
  cat > "$stubs/kubectl" <<'STUB'
#!/usr/bin/env bash
case "$*" in
  *"get lease"*) echo "node1_aaaa" ;;
  *) echo ok ;;
esac
STUB
  chmod +x "$stubs/kubectl"
  TIMEOUT_SECONDS=0 run "$drill" --yes node1
  [ "$status" -eq 1 ]
  [[ "$output" == *"leases are on 'node1'"* ]]
}
