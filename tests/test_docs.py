"""The docs build with warnings as errors (``sphinx -W``): the flag and config reference are
generated from the code, and the example notebooks are executed on the local infra during the
build, so their rendered pages carry real outputs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jupyter_sky.config_sections import sections
from jupyter_sky.spec.flags import FLAGS

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs-html")
    env = {**os.environ, "JUPYTER_SKY_HOME": str(tmp_path_factory.mktemp("docs-home"))}
    start = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(out)],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    print(f"docs built in {time.monotonic() - start:.1f} s")
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    return out


def _text(page: Path) -> str:
    return re.sub(r"<[^>]+>", "", page.read_text())


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_reference_pages_are_generated_from_the_code(html: Path) -> None:
    flags = _text(html / "generated" / "flags.html")
    for names, kwargs in FLAGS:
        assert names[-1] in flags
        assert kwargs["help"].split(":")[0].split("(")[0].strip()[:30] in flags.replace("\n", " ")
    config = _text(html / "generated" / "config.html")
    for section, cls in sections().items():
        assert f"{section}:" in config
        assert all(f.name in config for f in cls.__dataclass_fields__.values())


@pytest.mark.slow
def test_example_notebooks_render_with_their_outputs(html: Path) -> None:
    pages = {p.stem: _text(p) for p in (html / "generated" / "examples").glob("*.html")}
    assert set(pages) == {"quickstart", "teaching", "gpu_experiment", "pipeline"}
    assert "step 0" in pages["quickstart"] and "step 2" in pages["quickstart"]
    assert re.search(r"\d+ of 200000 darts landed inside", pages["teaching"])
    assert "trained on cpu: final loss" in pages["gpu_experiment"]
    assert "score 0.500" in pages["pipeline"]
    assert "▸ sky · cluster" in pages["teaching"]  # the status line of a %%sky cell
    images = list((html / "_images").glob("*.png"))
    assert images, "the notebooks' plots are in the built site"


@pytest.mark.slow
def test_every_page_is_built(html: Path) -> None:
    for page in ("index", "getting-started", "lab-panel", "budgets", "benchmarks", "infra/local",
                 "infra/ssh", "infra/slurm", "infra/clouds", "infra/kubernetes"):  # fmt: skip
        assert (html / f"{page}.html").is_file(), page
