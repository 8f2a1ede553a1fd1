#!/usr/bin/env bash
# Command 1 of the README: install jupyter-sky into its own virtual environment and run
# the quickstart notebook headless on the local infra (no credentials, no network).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${JUPYTER_SKY_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
pip_install() {  # pip's own log goes to a file; it is shown only when pip fails
  "$VENV/bin/python" -m pip install "$@" > "$VENV/pip.log" 2>&1 || { tail -n 40 "$VENV/pip.log"; exit 1; }
}
echo "installing jupyter-sky into $VENV ..."
pip_install --upgrade pip
pip_install -e '.[notebook]'
exec "$VENV/bin/python" scripts/run_notebook.py example_notebooks/quickstart.ipynb "$@"
