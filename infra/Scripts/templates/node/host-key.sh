#!/usr/bin/env bash
# The droplet's own SSH host key, made here, the first time this step runs on a droplet, and
# printed for the program to pin on every later step: a replaced droplet gets a new one, and its
# private half never leaves the droplet (nor is it in the user data, the metadata service or the
# Pulumi state). The user data's ECDSA key stays served: this step and the bootstrap wait pin it,
# and pulumi-command offers a pinned connection only its key's algorithm
# (remote/connection.go, HostKeyAlgorithms), so each connection meets the key it pins.
set -euo pipefail

MADE=/var/lib/do-k8s-ha/host-key-made-here
KEY=/etc/ssh/ssh_host_ed25519_key

if {{MAKE_HERE}}; then
  if [ ! -f "$MADE" ]; then
    rm -f "$KEY.new" "$KEY.new.pub"
    ssh-keygen -q -t ed25519 -N '' -C '' -f "$KEY.new"
    mv -f "$KEY.new.pub" "$KEY.pub"
    mv -f "$KEY.new" "$KEY"
    # Named, so no other sshd configuration leaves either key out.
    cat > /etc/ssh/sshd_config.d/51-do-k8s-ha-host-keys.conf <<'CONF'
HostKey /etc/ssh/ssh_host_ecdsa_key
HostKey /etc/ssh/ssh_host_ed25519_key
CONF
    sshd -t
    # sshd reads its configuration, the drop-in above included, when it starts and on SIGHUP
    # (the unit's ExecReload); this session keeps the key it began with.
    systemctl reload ssh
    mkdir -p /var/lib/do-k8s-ha
    touch "$MADE"
  fi
  printf 'host-key: %s\n' "$(ssh-keygen -y -f "$KEY" | awk '{print $1 " " $2}')"
else
  echo "host-key: kept (this droplet keeps the key its user data installed)"
fi
