#!/usr/bin/env bash
# do-k8s-ha remote step. Each script is kept on the node under {{STEPS_DIR}}, readable only
# by root, so an operator can read or re-run exactly what ran.
set -euo pipefail
install -d -m 0700 {{STEPS_DIR}}
{{RUNS}}
