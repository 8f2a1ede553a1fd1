#!/usr/bin/env bash
# Command 2 of the README: install everything the tests need into their own virtual
# environment (Python packages, and Debian's Chromium for the browser tests), build the
# Kubernetes test engine when it is not cached yet, and run the whole suite: lint, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${JUPYTER_SKY_TEST_VENV:-.venv-test}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
STAGE_START=$SECONDS
stage() {  # print how long the previous stage took, then the next stage's name
  echo "   (took $((SECONDS - STAGE_START)) s)"
  STAGE_START=$SECONDS
  echo "== $1"
}
pip_install() {  # pip's own log goes to a file; it is shown only when pip fails
  "$PY" -m pip install "$@" > "$VENV/pip.log" 2>&1 || { tail -n 40 "$VENV/pip.log"; exit 1; }
}
echo "== install: jupyter-sky[all,test,examples] into $VENV ..."
pip_install --upgrade pip
pip_install -e '.[all,test,examples]'  # examples: torch for example_notebooks/gpu_experiment.ipynb
if [ -f scripts/install_browser.sh ]; then
  bash scripts/install_browser.sh "$PY"
fi
stage "Kubernetes test engine (built once into ~/.cache, ~5 min cold)"
bash scripts/k8s_engine_build.sh
stage "ruff"
"$PY" -m ruff check jupyter_sky tests benchmarks scripts
stage "mypy"
"$PY" -m mypy
"$PY" -m mypy --strict --follow-imports=silent jupyter_sky/infra jupyter_sky/pipeline
stage "pytest"
"$PY" -m pytest -q -p no:cacheprovider --durations=15 "$@"
stage "done"
