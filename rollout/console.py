"""What the user sees: live progress on a terminal, plain timestamped lines in CI logs."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, TextIO


def format_elapsed(seconds: float) -> str:
    seconds = int(max(0, seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


@dataclass(frozen=True)
class Row:
    """One stack instance in a progress display."""

    account: str
    region: str
    status: str
    elapsed: float
    detail: str = ""

    def text(self) -> str:
        line = f"{self.account}  {self.region:<14} {self.status:<10} {format_elapsed(self.elapsed):>7}"
        return f"{line}  {self.detail}" if self.detail else line


class Console:
    """Writes messages; on a terminal a progress block is redrawn in place, elsewhere it is logged."""

    # In a log, repeat an unchanged progress line at most this often, so a long CloudFront
    # operation still shows signs of life without flooding the log.
    HEARTBEAT_SECONDS = 60.0

    def __init__(
        self,
        stream: TextIO | None = None,
        tty: bool | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.stream = stream if stream is not None else sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.clock = clock
        self._drawn = 0
        self._logged: dict[tuple[str, str], tuple[str, float]] = {}

    def _stamp(self) -> str:
        return datetime.fromtimestamp(self.clock(), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def line(self, text: str = "") -> None:
        """A message line (timestamped when not on a terminal)."""
        self._drawn = 0
        if self.tty or not text:
            self.stream.write(text + "\n")
        else:
            for part in text.splitlines():
                self.stream.write(f"{self._stamp()} {part}\n")
        self.stream.flush()

    def progress(self, title: str, rows: list[Row]) -> None:
        """Show the state of an operation's instances."""
        if self.tty:
            if self._drawn:
                # Move up over the previous block and redraw it.
                self.stream.write(f"\x1b[{self._drawn}F")
            lines = [title] + ["  " + row.text() for row in rows]
            for text in lines:
                self.stream.write("\x1b[2K" + text + "\n")
            self._drawn = len(lines)
            self.stream.flush()
            return
        now = self.clock()
        for row in rows:
            key = (row.account, row.region)
            state = f"{row.status}|{row.detail}"
            previous = self._logged.get(key)
            if previous and previous[0] == state and now - previous[1] < self.HEARTBEAT_SECONDS:
                continue
            self._logged[key] = (state, now)
            self.stream.write(f"{self._stamp()} {title}: {row.text()}\n")
        self.stream.flush()

    def end_progress(self) -> None:
        self._drawn = 0
        self._logged.clear()
