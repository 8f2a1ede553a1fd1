"""Checkpoints a cell sends home (``jupyter_sky.checkpoint``) and a kernel death that is not a
preemption, on the local infra with real kernels (the preemption itself: tests/aws and
tests/k8s ``test_preempt_*``)."""

from __future__ import annotations

from pathlib import Path

from nbdriver import Notebook

RESUMING = (
    "from jupyter_sky import checkpoint\n"
    "start = int(checkpoint.load('run/step') or 0)\n"
    "print('from step', start)\n"
    "for step in range(start + 1, start + 3):\n"
    "    checkpoint.save('run/step', str(step).encode())\n"
)


def test_a_checkpoint_comes_home_and_a_rerun_elsewhere_resumes_from_it(
    fresh_nb: Notebook, tmp_path: Path
) -> None:
    nb = fresh_nb
    first = nb.run("%%sky --name cp1\n" + RESUMING)
    assert first.status == "ok", first.error_text
    assert first.stdout == "from step 0\n", first.stdout
    shown = [o.text for o in first.of_type("display_data") + first.of_type("update_display_data")]
    assert not [t for t in shown if "checkpoint" in t], shown  # taken out of the output
    saved = tmp_path / ".sky-checkpoints" / "run" / "step"
    assert saved.read_bytes() == b"2"
    again = nb.run("%%sky --name cp2\n" + RESUMING)  # a fresh kernel: the file travels
    assert again.status == "ok", again.error_text
    assert again.stdout == "from step 2\n", again.stdout
    assert saved.read_bytes() == b"4"
    assert list(saved.parent.iterdir()) == [saved]  # no partial file left


def test_checkpoints_go_to_the_workdir_and_a_bad_name_is_refused(
    fresh_nb: Notebook, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    res = fresh_nb.run(f"%%sky --name cpw --workdir {work}\n" + RESUMING)
    assert res.status == "ok", res.error_text
    assert (work / "run" / "step").read_bytes() == b"2"
    assert not (tmp_path / ".sky-checkpoints").exists()
    bad = fresh_nb.run("%%sky --name cpw\nfrom jupyter_sky import checkpoint\ncheckpoint.save('../x', b'1')")
    assert bad.status == "error" and "use a relative path" in bad.error_text, bad.error_text
    assert not (tmp_path / "x").exists()


def test_recover_does_not_rerun_a_cell_whose_kernel_died_without_a_preemption(
    fresh_nb: Notebook,
) -> None:
    res = fresh_nb.run(
        "%%sky --name crash --recover\nimport os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
        timeout=30,
    )
    assert res.status == "error" and res.error["ename"] == "RemoteKernelDied", res.error_text
    assert "died while running this cell" in res.error_text and "preempted" not in res.error_text
    assert "--recover:" not in res.stderr, res.stderr
