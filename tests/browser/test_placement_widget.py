"""The placement widget in a real JupyterLab: the ranked table renders with real rows, and
with --confirm a click on a row launches there. The click gets a real target: a test-only
second infra ("altlocal", a second local kernel pool with its own label), registered
through the same registry real infras use; the cell proves where it ran by that label."""

from __future__ import annotations

import textwrap

import pytest

from .lab import LabServer, cell_locator, open_notebook, run_cell, save_screenshot
from .test_remote_widgets import run_all_above, texts, wait_text

pytestmark = pytest.mark.browser

ALT_INFRA = textwrap.dedent(
    '''
    """A second local kernel pool, for tests: same machine, its own label."""
    import dataclasses

    from jupyter_sky.infra.local import LocalInfra, machine


    class AltLocal(LocalInfra):
        kind = "altlocal"

        def live(self):
            return [dataclasses.replace(machine(), infra="altlocal", region="second-pool")]
    '''
)
REGISTER = (
    "from jupyter_sky.infra import register\n"
    "register('altinfra:AltLocal')\n%load_ext jupyter_sky"
)
CONFIRM = (
    "%%sky --name picked --confirm\nimport os\nprint('RAN ON', os.environ['JUPYTER_SKY_INFRA'])"
)
AGAIN = "%%sky --name picked\nimport os\nprint('AGAIN ON', os.environ['JUPYTER_SKY_INFRA'])"
DOWN = "%sky down picked"


def _notebook(server: LabServer, page, name: str) -> None:  # type: ignore[no-untyped-def]
    (server.root_dir / "altinfra.py").write_text(ALT_INFRA)
    server.write_notebook(f"{name}.ipynb", [REGISTER, CONFIRM, AGAIN, DOWN])
    open_notebook(page, server, f"{name}.ipynb")
    run_all_above(page, 2)  # the register cell and the --confirm cell


def test_click_on_a_row_launches_there(lab_server: LabServer, browser_page) -> None:
    page = browser_page
    _notebook(lab_server, page, "placement")
    table = cell_locator(page, 1).locator(".sky-plan")
    table.wait_for(timeout=90_000)
    rows = table.locator(".sky-row")
    infras = rows.evaluate_all("rs => rs.map(r => r.dataset.infra)")
    assert {"local", "altlocal"} <= set(infras)
    assert {"aws", "gcp", "azure"} & set(infras), infras  # real catalog prices, unusable here
    unusable = table.locator(".sky-unusable").first
    assert "no" in (unusable.get_attribute("title") or "")  # greyed, with its reason
    assert table.locator(".sky-chosen").count() == 1
    save_screenshot(page, "sky-placement-table", full_page=True)
    # Click the usable row that is NOT the chosen one: the launch must follow the click.
    chosen = table.locator(".sky-chosen").get_attribute("data-infra")
    target = "local" if chosen == "altlocal" else "altlocal"
    table.locator(f".sky-row[data-infra='{target}']").first.click()
    assert f"RAN ON {target}" in "\n".join(wait_text(page, 1, "RAN ON"))
    assert f"AGAIN ON {target}" in run_cell(page, 2)[-1]  # the warm cluster stays where it was put
    status = cell_locator(page, 1).locator(".sky-status").inner_text()
    assert f"{target} pid" in status and "$0.00" in status  # the widget became the status line
    save_screenshot(page, "sky-placement-clicked", full_page=True)
    assert "is down" in run_cell(page, 3)[-1]


@pytest.mark.parametrize("lab_server", [{"comms_over_subshells": "disabled"}], indirect=True)
def test_confirm_without_subshells_asks_for_pick(lab_server: LabServer, browser_page) -> None:
    page = browser_page
    _notebook(lab_server, page, "placement-nosubshells")
    out = "\n".join(wait_text(page, 1, "re-run with --pick"))
    assert "nothing was launched" in out
    assert "RAN ON" not in "\n".join(texts(page, 1))
