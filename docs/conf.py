"""Sphinx configuration of the jupyter-sky docs (MyST Markdown pages and MyST-NB notebooks)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "jupyter-sky"
author = "jupyter-sky contributors"
copyright = "2026, jupyter-sky contributors"
extensions = ["myst_nb", "sky_reference"]
exclude_patterns = ["_build", "_ext", "**.ipynb_checkpoints", "README.md"]
html_theme = "alabaster"
html_title = "jupyter-sky"
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]  # benchmarks.md starts its numbering at "##"

# The example notebooks run during the build, on the local infra (no credentials, no network).
nb_execution_mode = "force"
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_allow_errors = False
# A placement table is an anywidget with an HTML fallback: the static page shows the HTML.
nb_mime_priority_overrides = [
    ("html", "application/vnd.jupyter.widget-view+json", None),
    ("html", "text/html", 5),
]
