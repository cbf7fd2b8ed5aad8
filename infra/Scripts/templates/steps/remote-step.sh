#!/usr/bin/env bash
# do-k8s-ha remote step. It reaches the node on standard input, never in the command's text:
# pulumi-command puts that text on the SSH command line and prints it in full when a step fails.
{{WHERE}}
set -euo pipefail
{{STEPS_DIR}}
{{RUNS}}
