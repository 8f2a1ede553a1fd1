"""Sphinx extension: write the pages generated from the code before Sphinx reads the sources.

- ``generated/flags.md``: every ``%%sky`` flag from ``jupyter_sky.spec.flags.FLAGS`` (names, value,
  help, an example) and the reserved ones;
- ``generated/config.md``: every config section from ``jupyter_sky.config_sections.sections()``
  (key, type, default) with the section's docstring;
- ``generated/examples/*.ipynb``: the example notebooks, copied without outputs (MyST-NB
  executes them during the build, on the local infra).

Nothing here is copied by hand: change ``flags.py`` or a config section and the next build
shows it. ``generated/`` is not committed.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

DOCS = Path(__file__).resolve().parents[1]
OUT = DOCS / "generated"
NOTEBOOKS = DOCS.parent / "example_notebooks"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _flag_value(kwargs: dict[str, Any]) -> str:
    if kwargs.get("action") == "store_true":
        return "(switch)"
    return f"`{kwargs['metavar']}`" if kwargs.get("metavar") else "`VALUE`"


def flags_page() -> str:
    """The flag reference, from the flag table the ``%%sky`` parser is built from."""
    from jupyter_sky.spec import flags

    examples: dict[str, str] = flags.examples()
    lines = [
        "# `%%sky` flags",
        "",
        "Generated from `jupyter_sky/spec/flags.py` at build time; `%%sky?` in a notebook prints the same.",
        "",
        "| flag | value | meaning | example |",
        "|---|---|---|---|",
    ]
    for names, kwargs in flags.FLAGS + flags.infra_rows():
        long = names[-1]
        example = examples.get(long)
        shown = f"`{long} {example}`" if example else (f"`{long}`" if kwargs.get("action") else "")
        flag = ", ".join(f"`{n}`" for n in names)
        lines.append(f"| {flag} | {_flag_value(kwargs)} | {_cell(kwargs['help'])} | {shown} |")
    if flags.RESERVED:
        lines += ["", "## Reserved", "", "| flag | what it says today |", "|---|---|"]
        lines += [f"| `{flag}` | {_cell(text)} |" for flag, text in flags.RESERVED.items()]
    return "\n".join(lines) + "\n"


def _default(field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        return f"`{field.default!r}`" if field.default is not None else "`null`"
    value = field.default_factory()  # type: ignore[misc]
    if isinstance(value, (dict, list)):
        return f"`{value!r}`" if value else ("`{}`" if isinstance(value, dict) else "`[]`")
    return "computed when read"


def config_page() -> str:
    """The config reference, from the dataclasses that read and check each section."""
    from jupyter_sky.config_sections import sections

    lines = [
        "# Configuration keys",
        "",
        "Generated from `jupyter_sky/config_sections.py` at build time. The files are "
        "`$JUPYTER_SKY_HOME/config.yaml` (default `~/.jupyter_sky/`) and an optional "
        "`jupyter_sky.yaml` beside the notebook, merged over it; `%sky check` lists the files read.",
    ]
    for name, cls in sections().items():  # the core sections and every infra's own
        doc = " ".join((cls.__doc__ or "").split())
        lines += ["", f"## `{name}:`", "", doc, "", "| key | type | default |", "|---|---|---|"]
        for field in dataclasses.fields(cls):
            kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
            lines.append(f"| `{field.name}` | `{kind}` | {_default(field)} |")
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:  # unchanged files keep Sphinx's cache
        path.write_text(text)


def generate(app: Sphinx | None = None) -> None:
    """Write every generated page (also usable without Sphinx: ``python sky_reference.py``)."""
    _write(OUT / "flags.md", flags_page())
    _write(OUT / "config.md", config_page())
    (OUT / "examples").mkdir(parents=True, exist_ok=True)
    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        target = OUT / "examples" / notebook.name
        if not target.exists() or target.read_bytes() != notebook.read_bytes():
            shutil.copyfile(notebook, target)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", generate)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    generate()
