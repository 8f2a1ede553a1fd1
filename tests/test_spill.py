"""Same-host transfers skip the socket (:mod:`jupyter_sky.variables.spill`): on ``local`` a big
array travels as a private file both ways, arrives writable, and no file is left behind; a
receiver refuses any file name outside the directory it was offered."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
from nbdriver import Notebook

from jupyter_sky.variables import serialize, spill


def _packed(value: object) -> tuple[list[dict[str, object]], list[object]]:
    packed = serialize.pack(value)
    item: dict[str, object] = {"name": "v", "kind": "pickle", "nframes": 1 + len(packed.buffers)}
    return [item], packed.frames()


def test_a_big_buffer_goes_as_a_private_file_and_comes_back_writable(tmp_path: Path) -> None:
    where = tmp_path / "spill"
    where.mkdir(mode=0o700)
    arr = np.arange(1_000_000, dtype=np.float64)  # 8 MB: over SPILL_MIN
    items, frames = _packed({"small": 1, "arr": arr})
    written = spill.out(items, frames, where)
    assert len(written) == 1 and list(items[0]["spilled"]) == ["1"], items  # type: ignore[arg-type]
    assert frames[1] == b"" and stat.S_IMODE(written[0].stat().st_mode) == 0o600
    back = spill.back(items[0], frames, where)
    assert not written[0].exists(), "the receiver unlinks the file it mapped"
    value = serialize.unpack(back[0], back[1:])
    assert value["small"] == 1 and np.array_equal(value["arr"], arr)
    value["arr"][0] = 42.0  # writable (copy-on-write): the array is a normal one
    assert value["arr"][0] == 42.0


def test_small_buffers_stay_in_the_message(tmp_path: Path) -> None:
    items, frames = _packed(np.zeros(1000))
    assert spill.out(items, frames, tmp_path) == [] and "spilled" not in items[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["../../etc/passwd", "b-0123", "/etc/passwd", "id_rsa"])
def test_a_receiver_refuses_a_file_it_did_not_offer(tmp_path: Path, name: str) -> None:
    item = {"name": "v", "kind": "pickle", "nframes": 2, "spilled": {"1": name}}
    with pytest.raises(ValueError, match="names a file this notebook did not offer"):
        spill.back(item, [b"", b""], tmp_path)
    with pytest.raises(ValueError):
        spill.back(item, [b"", b""], None)  # a kernel on another host may not spill at all


def test_clean_removes_what_no_receiver_took(tmp_path: Path) -> None:
    items, frames = _packed(np.ones(1_000_000))
    written = spill.out(items, frames, tmp_path)
    spill.clean(written)
    spill.clean(written)  # twice is harmless
    assert list(tmp_path.iterdir()) == []


def test_the_directory_is_private() -> None:
    where = spill.directory()
    assert stat.S_IMODE(where.stat().st_mode) == 0o700 and where.stat().st_uid == os.getuid()


def test_local_push_and_pull_of_a_big_array_go_through_files_and_leave_none(
    nb: Notebook,
) -> None:
    """A 40 MB array to a local kernel and a changed one back: right values, both writable,
    and the notebook's spill directory is empty after each cell."""
    assert nb.run("import numpy as np\nbig = np.arange(5_000_000, dtype=np.float64)").status == "ok"
    counting = (  # counts the files this notebook wrote (push) and mapped (pull)
        "from jupyter_sky.variables import spill as _s\n"
        "_n = {'out': 0, 'back': 0}\n"
        "_out, _back = _s.out, _s.back\n"
        "def _o(*a):\n    r = _out(*a); _n['out'] += len(r); return r\n"
        "def _b(item, *a):\n    _n['back'] += len(item.get('spilled') or {}); return _back(item, *a)\n"
        "_s.out, _s.back = _o, _b\n"
    )
    assert nb.run(counting).status == "ok"
    res = nb.run("%%sky --name spill\nbig[0] = -1.0\nback = big * 2\ntotal = float(back.sum())")
    assert res.status == "ok", res.error_text
    assert nb.value("(float(back[0]), float(back[1]), back.flags.writeable)") == "(-2.0, 2.0, True)"
    assert nb.value("float(big[0])") == "-1.0"  # changed in place remotely, came home
    assert nb.value("_n") == "{'out': 1, 'back': 2}"  # big went as a file; big and back came so
    expected = float((np.arange(5_000_000, dtype=np.float64) * 2).sum()) + 2 * -1.0
    assert float(nb.value("total")) == expected
    spilled = nb.value("sorted(p.name for p in __import__('jupyter_sky.variables.spill').variables.spill.directory().iterdir())")
    assert spilled == "[]", spilled
    again = nb.run("%%sky --name spill\nprint(back.sum() == total)")
    assert again.status == "ok" and again.stdout.strip() == "True", again.error_text
