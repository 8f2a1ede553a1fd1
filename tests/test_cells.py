"""%%sky cells in a real notebook kernel on the local infra: output, variables, errors."""

from __future__ import annotations

import os
import re

import pytest
from nbdriver import Notebook


def remote_pid(nb: Notebook, name: str) -> int:
    res = nb.run(f"%%sky --name {name}\nimport os\nprint('PID', os.getpid())")
    assert res.status == "ok", res.error_text
    return int(re.search(r"PID (\d+)", res.stdout).group(1))  # type: ignore[union-attr]


def test_output_streams_live(nb: Notebook) -> None:
    """Line k of a remote cell printing one line a second arrives ≥ (k-1)·0.9 s after line 1."""
    res = nb.run(
        "%%sky --name stream\nimport time\nfor k in range(4):\n    print('line', k, flush=True)\n    time.sleep(1)"
    )
    assert res.status == "ok", res.error_text
    arrivals = [o.t for o in res.of_type("stream") if "line" in o.text for _ in o.text.splitlines()]
    lines = [o for o in res.of_type("stream") if "line" in o.text]
    assert len(lines) == 4, [o.text for o in lines]
    first = lines[0].t
    for k, out in enumerate(lines):
        assert out.t - first >= k * 0.9, (k, out.t - first)
        assert out.t < res.elapsed - 0.5, "output only arrived at the end of the cell"
    assert arrivals


def test_runs_in_another_process_and_bang_and_magics_run_remotely(nb: Notebook) -> None:
    local = int(nb.value("__import__('os').getpid()"))
    pid = remote_pid(nb, "where")
    assert pid != local
    res = nb.run(
        "%%sky --name where\n!echo BANGPARENT $PPID\n%time T = __import__('os').getpid()\nprint('T', T)"
    )
    assert res.status == "ok", res.error_text
    assert f"BANGPARENT {pid}" in res.stdout  # the shell's parent is the remote kernel
    assert "Wall time" in res.stdout
    assert f"T {pid}" in res.stdout
    assert nb.value("T") == str(pid)  # assigned inside %time, pulled back


def test_top_level_await_runs_remotely(nb: Notebook) -> None:
    res = nb.run("%%sky --name where\nimport asyncio\nawait asyncio.sleep(0.01)\nawaited = 'yes'")
    assert res.status == "ok", res.error_text
    assert nb.value("awaited") == "'yes'"


def test_variables_round_trip(nb: Notebook) -> None:
    assert nb.run("base = 20\ndef double(v):\n    return v * factor\nfactor = 2").status == "ok"
    res = nb.run("%%sky --name vars\nresult = double(base) + 2\nprint(result)")
    assert res.status == "ok", res.error_text
    assert res.stdout.strip() == "42"
    assert nb.value("result") == "42"
    # A local edit between two cells is always seen remotely.
    nb.run("base = 100")
    nb.run("%%sky --name vars\nresult = double(base)")
    assert nb.value("result") == "200"
    # The function was rebound to the remote namespace: a changed global is seen there.
    nb.run("factor = 3")
    nb.run("%%sky --name vars\nresult = double(base)")
    assert nb.value("result") == "300"


def test_in_place_mutations_come_back(nb: Notebook) -> None:
    setup = (
        "import numpy as np, pandas as pd\n"
        "from sklearn.linear_model import LinearRegression\n"
        "X = np.arange(10.0).reshape(-1, 1); y = 3 * X.ravel() + 1\n"
        "model = LinearRegression()\n"
        "df = pd.DataFrame({'a': [1, 2, 3]})\n"
        "arr = np.zeros(4); alias = arr\n"
        "lst = [1]; lst_alias = lst"
    )
    assert nb.run(setup).status == "ok"
    res = nb.run(
        "%%sky --name mut\nmodel.fit(X, y)\ndf['b'] = df['a'] * 10\narr += 5\nlst.append(2)"
    )
    assert res.status == "ok", res.error_text
    assert nb.value("round(float(model.coef_[0]), 6)") == "3.0"
    assert nb.value("list(df['b'])") == "[10, 20, 30]"
    assert nb.value("alias.tolist()") == "[5.0, 5.0, 5.0, 5.0]"  # updated in place
    assert nb.value("lst_alias") == "[1, 2]"
    # An edit to the numpy array between two cells is pushed again.
    nb.run("arr[0] = 100")
    res = nb.run("%%sky --name mut\nprint('first', arr[0])")
    assert "first 100.0" in res.stdout


def warm(nb: Notebook, name: str) -> None:
    """Create the cluster first, so the cell under test shows no placement table."""
    assert nb.run(f"%%sky --name {name}\npass").status == "ok"


def test_result_and_display_order(nb: Notebook) -> None:
    warm(nb, "disp")
    res = nb.run(
        "%%sky --name disp\nfrom IPython.display import display, HTML\nprint('before')\ndisplay(HTML('<b>shown</b>'))\n6 * 7"
    )
    assert res.status == "ok", res.error_text
    status, *rest = res.outputs
    assert status.content["metadata"] == {"jupyter_sky": "status"}  # where it ran, first
    assert status.text.startswith("▸ sky · cluster disp · local pid ")
    kinds = [o.msg_type for o in rest if o.msg_type != "stream" or "before" in o.text]
    assert kinds == ["stream", "display_data", "execute_result"]
    assert res.of_type("display_data")[1].content["data"]["text/html"] == "<b>shown</b>"
    assert res.of_type("execute_result")[0].text == "42"
    assert nb.run("%%sky --name disp\n6 * 7;").of_type("execute_result") == []


def test_inline_plot_and_text_progress_bar(nb: Notebook) -> None:
    warm(nb, "plot")
    code = (
        "%%sky --name plot\n%matplotlib inline\nimport matplotlib.pyplot as plt\n"
        "from tqdm import tqdm\nfor _ in tqdm(range(3), ascii=True):\n    pass\n"
        "plt.plot([1, 2, 3]); plt.show()"
    )
    res = nb.run(code)
    assert res.status == "ok", res.error_text
    images = [o for o in res.of_type("display_data") if "image/png" in o.content["data"]]
    assert len(res.of_type("display_data")) == 2  # the status line and the figure
    assert len(images) == 1
    assert "3/3" in res.stderr


def test_remote_error_is_raised_locally_with_remote_traceback(nb: Notebook) -> None:
    res = nb.run("%%sky --name err\ndef inner():\n    return 1 / 0\ninner()")
    assert res.status == "error"
    assert res.error["ename"] == "ZeroDivisionError"
    text = res.error_text
    assert "inner()" in text and "return 1 / 0" in text  # the remote frames
    assert "raised in the remote kernel: local pid" in text
    assert "magics.py" not in text  # none of jupyter-sky's own frames
    assert nb.run("%%sky --name err\nprint('still warm')").stdout.strip() == "still warm"


def test_unpicklable_push_is_named_before_anything_runs(nb: Notebook) -> None:
    nb.run("import threading\nlock = threading.Lock()")
    res = nb.run("%%sky --name never_started\nprint(lock)")
    assert res.status == "error"
    assert res.error["ename"] == "TransferError"
    assert "Cannot send `lock` (_thread.lock)" in res.error_text
    assert "--exclude lock" in res.error_text
    assert "never_started" not in nb.run("%sky status").stdout
    res = nb.run("%%sky --name never_started --exclude lock\nprint('lock' in globals())")
    assert res.stdout.strip() == "False"


def test_notebook_function_does_not_drag_unrelated_globals(nb: Notebook) -> None:
    nb.run(
        "import numpy as np\nbig_unrelated = np.ones(5_000_000)\nsmall = 3\ndef f():\n    return small"
    )
    res = nb.run("%%sky --name drag\nprint(f(), 'big_unrelated' in globals())")
    assert res.stdout.split() == ["3", "False"]


def test_big_pull_stays_remote_with_note_and_explicit_pull(nb: Notebook) -> None:
    res = nb.run("%%sky --name big\nimport numpy as np\nhuge = np.ones(8_000_000)\nsmall_one = 1")
    assert res.status == "ok", res.error_text
    assert (
        "`huge` (61.0 MB) stayed remote (over the 50 MB pull limit); bring it home with --pull huge"
        in res.stderr
    )
    assert nb.value("'huge' in globals()") == "False"
    assert nb.value("small_one") == "1"
    nb.run("%%sky --name big --pull huge\npass")
    assert nb.value("huge.shape") == "(8000000,)"


def test_value_that_cannot_load_locally_stays_remote(nb: Notebook, tmp_path: os.PathLike) -> None:
    code = (
        "%%sky --name onlyremote\nimport sys, types\nmod = types.ModuleType('remote_only_mod')\n"
        "exec('class Thing:\\n    pass', mod.__dict__)\nsys.modules['remote_only_mod'] = mod\n"
        "mod.Thing.__module__ = 'remote_only_mod'\nthing = mod.Thing()\nplain = 5"
    )
    res = nb.run(code)
    assert res.status == "ok", res.error_text
    assert "`thing` stayed remote: it cannot be loaded here (ModuleNotFoundError" in res.stderr
    assert nb.value("plain") == "5"


def test_deleted_names_are_deleted_locally(nb: Notebook) -> None:
    nb.run("gone = 1")
    nb.run("%%sky --name del\nprint(gone)")
    nb.run("%%sky --name del\ndel gone")
    assert nb.value("'gone' in globals()") == "False"


@pytest.mark.parametrize("flag", ["--no-pull", "--pull keep"])
def test_pull_flags(nb: Notebook, flag: str) -> None:
    nb.run("keep = 0\nother = 0")
    nb.run(f"%%sky --name flags {flag}\nkeep = 1\nother = 1")
    if flag == "--no-pull":
        assert (nb.value("keep"), nb.value("other")) == ("0", "0")
    else:  # --pull overrides the automatic list
        assert (nb.value("keep"), nb.value("other")) == ("1", "0")


def test_env_workdir_and_task_yaml_setup(nb: Notebook, tmp_path) -> None:  # type: ignore[no-untyped-def]
    work = tmp_path / "work"
    work.mkdir()
    (work / "task.yaml").write_text(
        "envs:\n  FROM_YAML: yes-yaml\nsetup: |\n  echo setting up\n  touch setup_ran\nresources:\n  cpus: 1+\n"
    )
    code = f"%%sky --name yamlcell -f {work}/task.yaml --env FROM_FLAG=yes-flag --workdir {work}\nimport os\nprint(os.environ['FROM_YAML'], os.environ['FROM_FLAG'], os.getcwd())"
    res = nb.run(code)
    assert res.status == "ok", res.error_text
    assert "setting up" in res.stdout
    assert (work / "setup_ran").exists()
    assert res.stdout.strip().splitlines()[-1] == f"yes-yaml yes-flag {work}"


def test_version_mismatch_refuses_code_and_warns_for_data() -> None:
    import pytest as _pytest

    from jupyter_sky.errors import TransferError
    from jupyter_sky.variables.prepare import version_notes as _version_notes
    from jupyter_sky.variables.transfer import PushPlan

    other = {"python": "3.9.1", "cloudpickle": "2.2.0"}
    data_plan = PushPlan(items=[{"name": "x"}])
    assert "plain data is sent anyway" in _version_notes(other, data_plan)[0]
    with _pytest.raises(TransferError, match="Cannot send notebook functions or classes"):
        _version_notes(other, PushPlan(items=[{"name": "f"}], has_code=True))
    from jupyter_sky.variables.serialize import versions

    assert _version_notes(versions(), PushPlan(items=[{"name": "f"}], has_code=True)) == []


def test_display_updates_and_clear_output_are_relayed(nb: Notebook) -> None:
    code = (
        "%%sky --name upd\nfrom IPython.display import display, clear_output\n"
        "h = display('first', display_id=True)\nh.update('second')\nprint('gone')\nclear_output(wait=True)\nprint('kept')"
    )
    res = nb.run(code)
    assert res.status == "ok", res.error_text
    kinds = [o.msg_type for o in res.outputs]
    assert "update_display_data" in kinds and "clear_output" in kinds
    update = res.of_type("update_display_data")[0]
    shown = [o for o in res.of_type("display_data") if o.text == "'first'"][0]
    assert update.content["transient"]["display_id"] == shown.content["transient"]["display_id"]
    assert update.text == "'second'"
    assert kinds.index("clear_output") > kinds.index("update_display_data")


def test_modules_are_imported_remotely_by_name(nb: Notebook) -> None:
    nb.run("import json as js")
    res = nb.run("%%sky --name mods\nprint(js.dumps([1]), js.__name__)")
    assert res.stdout.strip() == "[1] json"


def test_big_push_shows_its_size(nb: Notebook) -> None:
    nb.run("import numpy as np\nbig_push = np.ones(14_000_000)")
    res = nb.run("%%sky --name bigpush\nprint(big_push.sum())")
    assert "[sky] sending `big_push` (106.8 MB)" in res.stderr
    assert res.stdout.strip() == "14000000.0"
    res = nb.run("%%sky --name bigpush\nprint(big_push.sum())")
    assert "sending" not in res.stderr  # unchanged: the remote copy has the same digest
