#!/usr/bin/env bash
# Command 1 of the README: install jupyter-sky into its own virtual environment and run
# the quickstart notebook headless on the local infra (no credentials, no network).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${JUPYTER_SKY_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e '.[notebook]'
exec "$VENV/bin/python" scripts/run_notebook.py example_notebooks/quickstart.ipynb "$@"
