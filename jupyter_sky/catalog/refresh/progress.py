"""A progress bar for ``catalog refresh``: tqdm when installed, plain lines otherwise."""

from __future__ import annotations

import sys
from typing import Any, TextIO


class Progress:
    """Count steps (regions, pages) of one cloud's fetch.

    Parameters
    ----------
    label : str
        Shown before the count (the cloud name).
    total : int
        The number of steps expected.
    enabled : bool
        False prints nothing.
    stream : file, optional
        Where to write; default stderr.
    """

    def __init__(
        self, label: str, total: int, *, enabled: bool = True, stream: TextIO | None = None
    ) -> None:
        self.label, self.total, self.done = label, max(total, 1), 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self._bar: Any = None
        self._shown = -1
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self._bar = tqdm(total=self.total, desc=label, unit="req", file=self.stream)

    def step(self, note: str = "") -> None:
        """Record one finished step; ``note`` names it (a region)."""
        self.done += 1
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(note, refresh=False)
            self._bar.update(1)
            return
        tenth = self.done * 10 // self.total
        if tenth != self._shown or self.done == self.total:
            self._shown = tenth
            print(f"{self.label}: {self.done}/{self.total} {note}".rstrip(), file=self.stream)

    def close(self) -> None:
        """End the bar (a guessed total shrinks to the steps actually made)."""
        if self._bar is not None:
            if self.done < self.total:
                self._bar.total = self.done
                self._bar.refresh()
            self._bar.close()
            self._bar = None
