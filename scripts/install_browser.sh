#!/usr/bin/env bash
# Install what the real-browser tests (tests/browser) need. Idempotent.
#
#   bash scripts/install_browser.sh [PYTHON]
#
# - Debian `chromium` via apt-get (apt-get update only when chromium is missing).
# - jupyterlab>=4.4, playwright, anywidget, ipywidgets, nbformat into the venv of PYTHON
#   (default: python3).
#
# Never runs `playwright install`: Playwright drives Debian's /usr/bin/chromium, and the
# playwright wheel already bundles its node driver, so nothing is downloaded at run time.
# Output is quiet; on failure the captured log is printed and the script exits non-zero.
set -euo pipefail

PY="${1:-python3}"
LOG="$(mktemp -t install-browser.XXXXXX.log)"
trap 'rm -f "$LOG"' EXIT

die() {
    echo "install_browser.sh: ERROR: $*" >&2
    if [ -s "$LOG" ]; then
        echo "---- last 60 lines of the log ----" >&2
        tail -n 60 "$LOG" >&2
    fi
    exit 1
}

have_chromium() {
    [ -x /usr/bin/chromium ] || [ -x /usr/lib/chromium/chromium ]
}

# 1. Debian chromium
if have_chromium; then
    echo "install_browser.sh: chromium already installed"
else
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "chromium is missing and we are not root (no sudo)"
        SUDO="sudo"
    fi
    command -v apt-get >/dev/null 2>&1 || die "chromium is missing and apt-get is not available"
    echo "install_browser.sh: installing Debian chromium (apt-get) ..."
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q >>"$LOG" 2>&1 || die "apt-get update failed"
    $SUDO apt-get install -y -q --no-install-recommends chromium >>"$LOG" 2>&1 \
        || die "apt-get install chromium failed"
    have_chromium || die "chromium was installed but /usr/bin/chromium is not executable"
fi

# 2. Python packages
command -v "$PY" >/dev/null 2>&1 || [ -x "$PY" ] || die "python interpreter not found: $PY"
"$PY" -c 'import sys; assert sys.version_info >= (3, 10), sys.version' >>"$LOG" 2>&1 \
    || die "$PY is not Python >= 3.10"
"$PY" -m pip --version >>"$LOG" 2>&1 || die "$PY has no pip (is it a venv? try: $PY -m ensurepip)"

PKGS=("jupyterlab>=4.4" "playwright" "anywidget" "ipywidgets" "nbformat")
if "$PY" - "${PKGS[@]}" >>"$LOG" 2>&1 <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version

from packaging.requirements import Requirement

for spec in sys.argv[1:]:
    req = Requirement(spec)
    try:
        v = version(req.name)
    except PackageNotFoundError:
        sys.exit(f"missing: {req.name}")
    if not req.specifier.contains(v, prereleases=True):
        sys.exit(f"too old: {req.name} {v}")
EOF
then
    echo "install_browser.sh: python packages already installed"
else
    echo "install_browser.sh: pip-installing ${PKGS[*]} ..."
    "$PY" -m pip install -q --disable-pip-version-check "${PKGS[@]}" >>"$LOG" 2>&1 \
        || die "pip install into $PY failed"
fi

# 3. Sanity check (imports only; never `playwright install`).
"$PY" -c 'import jupyterlab, playwright.sync_api, anywidget, ipywidgets, nbformat' >>"$LOG" 2>&1 \
    || die "the installed packages do not import with $PY"
echo "install_browser.sh: OK ($("$PY" -c 'import jupyterlab; print("jupyterlab", jupyterlab.__version__)'))"
