#!/usr/bin/env bash
# Start the AWS lab (root): moto's EC2 server over HTTP with fault injection, and a simulated
# hypervisor that boots a network-namespace host with a real sshd for each running instance.
# Idempotent; stop it with scripts/aws_lab_down.sh (which stops exactly the PID started here).
#
#   sudo bash scripts/aws_lab_up.sh      # last line: AWS_LAB_READY endpoint=... env=<lab.json>
#
# Names: bridge skyawsbr0, namespaces skyaws-*, range 10.213.64.0/18 (unreachable unless a VM
# host is booted there).  State, pid files and logs: $JUPYTER_SKY_AWS_LAB (/tmp/jupyter-sky-aws-lab).
# Python: $JUPYTER_SKY_TEST_VENV/bin/python (.venv-test), which needs the `test` extra (moto).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "aws_lab_up.sh: must run as root (namespaces, veth, users)" >&2; exit 1; }
PY="${JUPYTER_SKY_TEST_VENV:-.venv-test}/bin/python"
missing=""
command -v /usr/sbin/sshd >/dev/null || missing="$missing openssh-server"
command -v ssh-keygen >/dev/null || missing="$missing openssh-client"
command -v ip >/dev/null || missing="$missing iproute2"
command -v nsenter >/dev/null || missing="$missing util-linux"
if [ -n "$missing" ]; then
  echo "aws_lab_up.sh: installing$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends $missing >&2 \
    || { apt-get update >&2 && apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends $missing >&2; } \
    || exit 3
fi
exec "$PY" tests/labs/aws_lab.py up
