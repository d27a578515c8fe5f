"""Progress as data: counts of finished runs with an ETA, reported through a callback, rendered in one place.

Producers (prepare's decoding, a launch's runs: `pipeline.launch.RunProgress`) report `Progress` values to
a callback; `render` turns one into the line a terminal shows and `Printer` shows it (rewritten in place on
a TTY, a new line every `every_s` otherwise). A bottom-layer module: it imports nothing of the pipeline.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True)
class Progress:
    """`done` of `total` units (runs, images), `eta_s` seconds left (None until it can be estimated)."""

    done: int
    total: int
    elapsed_s: float
    eta_s: float | None = None
    unit: str = "runs"
    note: str = ""  # e.g. "12 skipped"

    @property
    def finished(self) -> bool:
        return self.done >= self.total


def eta(done_now: int, done_at_start: int, total: int, elapsed_s: float) -> float | None:
    """Seconds left at the rate of this session's work (None before anything finished in it)."""
    gained = done_now - done_at_start
    return None if gained <= 0 else (total - done_now) * elapsed_s / gained


def render(p: Progress) -> str:
    """The one progress line."""
    left = "?" if p.eta_s is None else f"{p.eta_s:.0f}s"
    note = f", {p.note}" if p.note else ""
    return f"{p.unit} {p.done}/{p.total} done{note}, {p.elapsed_s:.0f}s elapsed, ETA {left}"


class Printer:
    """Renders Progress: on a terminal one line rewritten in place (at most every 0.5 s), else one line per
    `every_s` seconds; the final state is always printed."""

    def __init__(self, stream: TextIO | None = None, *, every_s: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every_s = 0.5 if self.tty else every_s
        self._last = 0.0
        self._open = False

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if not p.finished and now - self._last < self.every_s:
            return
        self._last = now
        if self.tty:
            print("\r" + render(p), end="", file=self.stream, flush=True)
            self._open = not p.finished
            if p.finished:
                print(file=self.stream)
        else:
            print(render(p), file=self.stream, flush=True)

    def message(self, line: str) -> None:
        """A message on its own line (closing an in-place progress line first)."""
        if self._open:
            print(file=self.stream)
            self._open = False
        print(line, file=self.stream, flush=True)
