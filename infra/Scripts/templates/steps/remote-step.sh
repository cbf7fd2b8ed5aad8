#!/usr/bin/env bash
# do-k8s-ha remote step. It reaches the node on standard input, never in the command's text:
# pulumi-command puts that text on the SSH command line and prints it in full when a step fails.
{{WHERE}}
set -euo pipefail
# The distribution's umask, whatever the SSH session's: a file a daemon reads as its own user
# (etcd, apt's _apt) must be readable by it. A file that holds a secret gets its mode where it
# is written (install -m, chmod), never from the umask.
umask 022
{{STEPS_DIR}}
{{RUNS}}
