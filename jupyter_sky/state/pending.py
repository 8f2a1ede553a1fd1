"""Run records a full disk kept out of the state database (its spend records).

A run whose start could not be written gets a negative id and is held in memory; its end is
noted there, and an ended run is written with the first later write that succeeds (the next
cell's end, once there is room again). Only a notebook kernel that dies while the disk is
still full loses what it held.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jupyter_sky.state import Store

RUN_COLUMNS = (
    "cluster", "cell_hash", "infra", "placement", "started_at", "notebook", "cell", "nodes",
    "price",
)  # fmt: skip


class PendingRuns:
    """Runs of one store not written yet, by their (negative) ids."""

    def __init__(self) -> None:
        self._rows: dict[int, dict[str, object]] = {}
        self._next = -1

    def hold(self, values: tuple[object, ...]) -> int:
        """Keep a run whose start could not be written; return its negative id."""
        run_id, self._next = self._next, self._next - 1
        self._rows[run_id] = {**dict(zip(RUN_COLUMNS, values, strict=True)), "status": "running"}
        return run_id

    def end(self, run_id: int, status: str, reason: str, cost: float | None, now: float) -> None:
        """Note how a held run ended; its cost is price x elapsed hours unless given."""
        row = self._rows.get(run_id)
        if row is not None:
            if cost is None:
                cost = float(row["price"]) * max(0.0, now - float(row["started_at"])) / 3600  # type: ignore[arg-type]
            row.update(ended_at=now, status=status, reason=reason, cost=cost)

    def flush(self, store: Store) -> None:
        """Write the ended runs held; stop at the first write that fails (still full)."""
        from jupyter_sky.state.recover import journal_run

        for run_id, row in list(self._rows.items()):
            if row["status"] == "running":
                continue
            new_id = store._execute(
                f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                tuple(row.values()),
            )
            if new_id is None:
                return
            del self._rows[run_id]
            journal_run(store, new_id)
