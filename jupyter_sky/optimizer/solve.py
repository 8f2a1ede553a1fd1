"""Exact placement of a task graph over per-task candidates: DP for chains, MILP otherwise.

Both solvers take plain numbers, so tests can compare them with brute force on random
instances: ``node[t][i]`` is candidate ``i``'s own cost (or time) for task ``t``, and
``edge[(u, v)][i][j]`` the cost of ``u`` on candidate ``i`` feeding ``v`` on candidate ``j``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

Matrix = Sequence[Sequence[float]]


def solve_chain(
    order: Sequence[str],
    node: Mapping[str, Sequence[float]],
    edge: Mapping[tuple[str, str], Matrix],
) -> tuple[float, dict[str, int]]:
    """Return the minimum total and the candidate index of each task of a chain.

    Parameters
    ----------
    order : sequence of str
        The tasks, each feeding the next.
    node : mapping
        Task -> cost of each of its candidates.
    edge : mapping
        (task, next task) -> matrix of transfer costs; a missing pair costs nothing.

    Returns
    -------
    tuple of (float, dict)
        The optimum (node costs plus transfers) and task -> chosen candidate index.
    """
    import numpy as np

    best = np.asarray(node[order[0]], dtype=float)
    back: list[np.ndarray] = []
    for prev, task in pairwise(order):
        own = np.asarray(node[task], dtype=float)
        hop = np.asarray(edge.get((prev, task), np.zeros((len(best), len(own)))), dtype=float)
        through = best[:, None] + hop  # rows: previous candidate, columns: this one
        back.append(through.argmin(axis=0))
        best = through.min(axis=0) + own
    choice = [int(best.argmin())]
    for arg in reversed(back):
        choice.append(int(arg[choice[-1]]))
    return float(best.min()), dict(zip(order, reversed(choice), strict=True))


def _variables(
    tasks: Sequence[str],
    node: Mapping[str, Sequence[float]],
    edge: Mapping[tuple[str, str], Matrix],
) -> tuple[dict, list[tuple]]:
    """Index x[(task, i)] for every candidate and y[(u, v, i, j)] for every costly pair."""
    x = {(t, i): n for n, (t, i) in enumerate((t, i) for t in tasks for i in range(len(node[t])))}
    pairs = [
        (u, v, i, j)
        for (u, v), m in edge.items()
        for i, row in enumerate(m)
        for j, cost in enumerate(row)
        if cost > 0
    ]
    return x, pairs


def solve_dag(
    tasks: Sequence[str],
    node: Mapping[str, Sequence[float]],
    edge: Mapping[tuple[str, str], Matrix],
    makespan: bool = False,
) -> tuple[float, dict[str, int]]:
    """Return the minimum and the candidate index of each task, by ``scipy.optimize.milp``.

    Binary ``x[t, i]`` picks one candidate per task; ``y[u, v, i, j] >= x[u, i] + x[v, j] - 1``
    is 1 exactly when a costly pair is picked (only pairs with a positive cost get a ``y``).
    With ``makespan`` the objective is the longest path instead of the sum: a finish time
    per task, ``f[v] >= f[u] + transfer(u, v) + own(v)`` per edge, minimising ``T >= f[v]``.

    Parameters
    ----------
    tasks : sequence of str
        Every task of the graph.
    node, edge : mapping
        As for :func:`solve_chain`; edges may form any DAG.
    makespan : bool
        Minimise the longest path (time) rather than the sum (cost).

    Returns
    -------
    tuple of (float, dict)
        The optimum and task -> chosen candidate index.
    """
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    x, pairs = _variables(tasks, node, edge)
    nx_, ny = len(x), len(pairs)
    nf = len(tasks) + 1 if makespan else 0  # finish times, then T
    size = nx_ + ny + nf
    rows: list[tuple[dict[int, float], float, float]] = []
    for t in tasks:  # one candidate per task
        rows.append(({x[t, i]: 1.0 for i in range(len(node[t]))}, 1.0, 1.0))
    for k, (u, v, i, j) in enumerate(pairs):  # x[u,i] + x[v,j] - y <= 1
        rows.append(({x[u, i]: 1.0, x[v, j]: 1.0, nx_ + k: -1.0}, -np.inf, 1.0))
    cost = np.zeros(size)
    if makespan:
        rows += _timing_rows(tasks, node, edge, x, pairs, nx_ + ny)
        cost[-1] = 1.0
    else:
        for (t, i), n in x.items():
            cost[n] = node[t][i]
        for k, (u, v, i, j) in enumerate(pairs):
            cost[nx_ + k] = edge[u, v][i][j]
    entries = [(r, col, val) for r, (coef, _, _) in enumerate(rows) for col, val in coef.items()]
    r_idx, c_idx, vals = zip(*entries, strict=True)
    a = coo_matrix((vals, (r_idx, c_idx)), shape=(len(rows), size))
    lo, hi = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
    integrality = np.concatenate([np.ones(nx_), np.zeros(ny + nf)])
    upper = np.concatenate([np.ones(nx_ + ny), np.full(nf, np.inf)])
    result = milp(
        cost,
        constraints=LinearConstraint(a.tocsr(), lo, hi),
        integrality=integrality,
        bounds=Bounds(np.zeros(size), upper),
    )
    if result.x is None:
        raise RuntimeError(f"HiGHS found no placement: {result.message}")
    picked = {t: max(range(len(node[t])), key=lambda i: result.x[x[t, i]]) for t in tasks}
    return float(result.fun), picked


def _timing_rows(
    tasks: Sequence[str],
    node: Mapping[str, Sequence[float]],
    edge: Mapping[tuple[str, str], Matrix],
    x: dict,
    pairs: list[tuple],
    first: int,
) -> list[tuple[dict[int, float], float, float]]:
    """Rows for ``f[v] >= own(v) (+ f[u] + transfer)`` and ``T >= f[v]`` (all as ``>= 0``)."""
    import numpy as np

    f = {t: first + n for n, t in enumerate(tasks)}
    end = first + len(tasks)
    rows: list[tuple[dict[int, float], float, float]] = []
    parents: dict[str, list[str]] = {t: [] for t in tasks}
    for u, v in edge:
        parents[v].append(u)
    for v in tasks:
        own = {x[v, j]: -node[v][j] for j in range(len(node[v]))}
        rows.append(({f[v]: 1.0, **own}, 0.0, np.inf))
        for u in parents[v]:
            hop = {
                first - len(pairs) + k: -edge[u, v][i][j]
                for k, (a, b, i, j) in enumerate(pairs)
                if (a, b) == (u, v)
            }
            rows.append(({f[v]: 1.0, f[u]: -1.0, **own, **hop}, 0.0, np.inf))
        rows.append(({end: 1.0, f[v]: -1.0}, 0.0, np.inf))
    return rows
