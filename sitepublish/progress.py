"""Live progress of parallel transfers: files, bytes and rate, redrawn on a terminal, a line now and then in a log."""

from __future__ import annotations

import threading
import time
from typing import Callable

from rollout.console import Console, Row


def format_bytes(count: float) -> str:
    """1536 -> 1.5 KB (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


class TransferProgress:
    """Counts finished transfers from any thread and shows them through the Console.

    On a terminal the line is redrawn at most 5 times a second; in a log (CI) one line is written
    every LOG_INTERVAL seconds and at the end of each wave, never one per file.
    """

    TTY_INTERVAL = 0.2
    LOG_INTERVAL = 10.0

    def __init__(self, console: Console, account: str, region: str, total_files: int, total_bytes: int,
                 clock: Callable[[], float] = time.monotonic):
        self.console = console
        self.account = account
        self.region = region
        self.total_files = total_files
        self.total_bytes = total_bytes
        self.clock = clock
        self.files = 0
        self.bytes = 0
        self.wave = ""
        self._began = clock()
        self._shown = float("-inf")
        self._lock = threading.Lock()

    def row(self) -> Row:
        elapsed = max(self.clock() - self._began, 1e-6)
        detail = (f"{self.files}/{self.total_files} files, {format_bytes(self.bytes)}/"
                  f"{format_bytes(self.total_bytes)}, {format_bytes(self.bytes / elapsed)}/s")
        return Row(self.account, self.region, self.wave, elapsed, detail)

    def start_wave(self, name: str) -> None:
        with self._lock:
            self.wave = name
            self._show(force=True)

    def advance(self, size: int) -> None:
        """One transfer finished (called from worker threads)."""
        with self._lock:
            self.files += 1
            self.bytes += size
            self._show(force=False)

    def end_wave(self) -> None:
        with self._lock:
            self._show(force=True)

    def finish(self) -> None:
        self.console.end_progress()

    def _show(self, force: bool) -> None:
        now = self.clock()
        interval = self.TTY_INTERVAL if self.console.tty else self.LOG_INTERVAL
        if not force and now - self._shown < interval:
            return
        self._shown = now
        self.console.progress("site", [self.row()])
