#!/usr/bin/env bash
# do-k8s-ha remote step. Each script is kept on the node under /var/lib/do-k8s-ha/steps, readable
# only by root, so an operator can read or re-run exactly what ran.
set -euo pipefail
install -d -m 0700 /var/lib/do-k8s-ha/steps
{{RUNS}}
