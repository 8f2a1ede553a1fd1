"""The ``%%sky`` flag table: one place for every flag, its help, and the parser built from it."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from jupyter_sky.errors import SpecError

F = TypeVar("F", bound=Callable[..., Any])


def _row(*names: str, help: str, **kwargs: Any) -> tuple[tuple[str, ...], dict]:
    return names, {"help": help, **kwargs}


FLAGS: list[tuple[tuple[str, ...], dict]] = [
    _row("--infra", metavar="INFRA", help="Where to run: local, ssh/<host>, slurm/<cluster>, aws[/<region>], ..."),
    _row("--name", metavar="CLUSTER", help="Cluster to create or reuse (letters, digits, -, _)."),
    _row("--gpus", metavar="NAME[:N]", help="Accelerators such as A100:1, or N for N of any type."),
    _row("--cpus", metavar="N[+]", help="vCPUs: exactly N, or at least N with a trailing +."),
    _row("--memory", metavar="GB[+]", help="Memory in GB: exactly GB, or at least GB with +."),
    _row("--spot", action="store_true", help="Use spot (preemptible) machines."),
    _row(
        "--recover",
        action="store_true",
        help="If the cluster is preempted mid-cell, relaunch it and rerun the cell once.",
    ),
    _row("--instance-type", metavar="TYPE", help="A specific instance type such as p3.2xlarge."),
    _row("--max-price", metavar="USD", help="Highest price to pay, in dollars per hour."),
    _row("--push", metavar="A,B", help="Variables to send (default: the ones the cell reads)."),
    _row("--pull", metavar="X,Y", help="Variables to bring back (default: the ones it assigns)."),
    _row("--no-pull", action="store_true", help="Bring no variables back."),
    _row("--exclude", metavar="A,B", help="Variables never to send."),
    _row("--env", action="append", metavar="KEY=VALUE", help="Remote environment variable."),
    _row("--workdir", metavar="DIR", help="Directory to sync to the remote machine."),
    _row("--autostop", metavar="MIN", help="Stop the cluster after this many idle minutes."),
    _row("--max-cost", metavar="USD", help="Interrupt the cell (and stop the cluster) at this spend."),
    _row("-f", "--file", metavar="TASK_YAML", help="SkyPilot-style task YAML; flags win over it."),
    _row("--time", metavar="HOURS", help="Runtime estimate (1.5, 90m, 2h): ranks by total cost."),
    _row("--output-gb", metavar="GB", help="GB the cell brings home, priced as egress."),
    _row("--confirm", action="store_true", help="Show the ranked placements and wait for a click."),
    _row("--pick", metavar="N", help="Launch on row N of the placement table."),
    _row(
        "--replan", action="store_true", help="Show the placements again for an existing cluster."
    ),
    _row(
        "--num-nodes", metavar="N", help="Nodes; only infras that span nodes (Slurm) are offered."
    ),
    _row(
        "--detach",
        action="store_true",
        help="Submit the cell as a batch job; %sky attach JOB brings it back.",
    ),
    _row(
        "--task", metavar="NAME", help="Name this cell as a task of a pipeline, placed as a whole."
    ),
    _row("--after", metavar="A,B", help="Tasks whose outputs this task reads (pipeline edges)."),
]

RESERVED: dict[str, str] = {}  # flag -> "FLAG is not available yet: ..." (parsed, refused)
_RESERVED_SWITCHES: tuple[str, ...] = ()
_EXAMPLES = {"--infra": "aws/us-east-1", "--name": "train", "--gpus": "A100:1", "--cpus": "4+",
             "--memory": "16+", "--instance-type": "p3.2xlarge", "--max-price": "2.5",
             "--push": "df,model", "--pull": "result", "--exclude": "secret", "--env": "KEY=VALUE",
             "--workdir": "./src", "--autostop": "30", "--file": "task.yaml", "--time": "2h",
             "--output-gb": "5", "--pick": "2", "--task": "train", "--after": "prep",
             "--num-nodes": "2", "--max-cost": "5"}  # fmt: skip


def infra_rows() -> list[tuple[tuple[str, ...], dict]]:
    """The flags every registered infra brings (Slurm's ``--partition``, ...)."""
    from jupyter_sky.infra import infra_flags

    unique = {f.flag: f for _, f in infra_flags()}  # a flag several infras share is one flag
    return [((f.flag,), {"dest": f.dest, "metavar": "NAME", "help": f.help}) for f in unique.values()]


def examples() -> dict[str, str]:
    """An example value per flag, for "needs a value, such as ..." sentences."""
    from jupyter_sky.infra import infra_flags

    return {**_EXAMPLES, **{f.flag: f.example for _, f in infra_flags()}}


def all_flag_names() -> list[str]:
    """Every flag the parser knows, for "did you mean" hints."""
    return [name for names, _ in FLAGS + infra_rows() for name in names] + list(RESERVED)


def _reserved_rows() -> list[tuple[tuple[str, ...], dict]]:
    rows: list[tuple[tuple[str, ...], dict]] = []
    for flag, sentence in RESERVED.items():
        kwargs: dict = {"help": sentence.split(": ", 1)[0] + "."}
        if flag in _RESERVED_SWITCHES:
            kwargs["action"] = "store_true"
        else:
            kwargs.update(nargs="?", const="", metavar="VALUE")
        rows.append(((flag,), kwargs))
    return rows


def apply_flags(func: F) -> F:
    """Attach IPython ``@magic_arguments`` for every flag, so ``%%sky?`` shows the help.

    Parameters
    ----------
    func : callable
        The magic function.

    Returns
    -------
    callable
        The same function with ``parser`` set and its docstring replaced by the help text.
    """
    from IPython.core import magic_arguments as ma

    decorators: list[Callable[[Any], Any]] = [ma.argument(*n, **kw) for n, kw in FLAGS]
    decorators.append(ma.argument_group("infra flags"))
    decorators += [ma.argument(*n, **kw) for n, kw in infra_rows()]
    if RESERVED:
        decorators.append(ma.argument_group("not available yet"))
        decorators += [ma.argument(*n, **kw) for n, kw in _reserved_rows()]
    for decorate in reversed(decorators):  # IPython applies them in source order
        func = decorate(func)
    return ma.magic_arguments()(func)


class _Parser(argparse.ArgumentParser):
    """argparse that raises SpecError; even with exit_on_error=False it may call ``error``."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise SpecError(f"The %%sky line is invalid ({message}); run %%sky? to see the flags.")


@functools.lru_cache(maxsize=4)
def parser(registry_version: int) -> _Parser:
    """The ``%%sky`` parser: the flag table plus every registered infra's flags."""
    built = _Parser(prog="%%sky", add_help=False, allow_abbrev=False, exit_on_error=False)
    for names, kwargs in FLAGS + infra_rows() + _reserved_rows():
        built.add_argument(*names, **kwargs)
    return built


def _spellings() -> dict[str, str]:
    """Every flag spelling (``-f``, ``--file`` ...) -> its long name."""
    names = {name: row[-1] for row, _ in FLAGS + infra_rows() for name in row}
    return {**names, **{flag: flag for flag in RESERVED}}


REPEATABLE = frozenset({"--env"})


def tidy_words(words: list[str]) -> list[str]:
    """The %%sky line's words, ready for argparse; a flag given twice is one sentence.

    A value that starts with ``-`` (``--time -1h``, ``--name -x``) is joined to its flag
    (``--time=-1h``), so the flag's own check says what is wrong with it instead of argparse
    reporting a missing value.
    """
    spellings = _spellings()
    switches = {name for row, kw in FLAGS if kw.get("action") == "store_true" for name in row}
    tidy: list[str] = []
    seen: set[str] = set()
    i = 0
    while i < len(words):
        word = words[i]
        flag = spellings.get(word.split("=", 1)[0])
        if flag is not None and flag not in REPEATABLE:
            if flag in seen:
                raise SpecError(f"{flag} is given twice on the %%sky line; keep one of them.")
            seen.add(flag)
        nxt = words[i + 1] if i + 1 < len(words) else ""
        takes_value = flag is not None and "=" not in word and word not in switches
        if takes_value and nxt.startswith("-") and nxt.split("=", 1)[0] not in spellings:
            tidy.append(f"{word}={nxt}")
            i += 2
            continue
        tidy.append(word)
        i += 1
    return tidy
