#!/usr/bin/env bash
# Stop the AWS lab started by scripts/aws_lab_up.sh: its server PID (checked by command line),
# every VM host (namespace skyaws-*), the routes of 10.213.64.0/18 and the bridge skyawsbr0.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${JUPYTER_SKY_TEST_VENV:-.venv-test}/bin/python"
exec "$PY" tests/labs/aws_lab.py down
