"""Live progress: redrawn in place on a terminal, a few timestamped lines in a log, never one per file."""

from __future__ import annotations

import io

from rollout.console import Console
from sitepublish.progress import TransferProgress, format_bytes


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_log_gets_a_line_per_wave_boundary_and_every_ten_seconds() -> None:
    clock, out = Clock(), io.StringIO()
    progress = TransferProgress(Console(out, tty=False, clock=lambda: 0.0), "333333333333", "us-west-2",
                                total_files=1000, total_bytes=1000 * 2048, clock=clock)
    progress.start_wave("assets")
    for _ in range(600):  # 600 files in 6 seconds: no line
        clock.now += 0.01
        progress.advance(2048)
    assert out.getvalue().count("\n") == 1
    clock.now += 5
    progress.advance(2048)  # 11 s after the last line
    clock.now += 1
    progress.advance(2048)
    progress.end_wave()  # the wave's last state, always
    progress.finish()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0] == "1970-01-01T00:00:00Z site: 333333333333  us-west-2      assets          0s  " \
                       "0/1000 files, 0 B/2.0 MB, 0 B/s"
    assert lines[1].endswith("assets         10s  601/1000 files, 1.2 MB/2.0 MB, 109.3 KB/s")
    assert lines[2].endswith("assets         11s  602/1000 files, 1.2 MB/2.0 MB, 100.3 KB/s")


def test_a_terminal_gets_the_line_redrawn_in_place() -> None:
    clock, out = Clock(), io.StringIO()
    progress = TransferProgress(Console(out, tty=True), "111111111111", "us-east-1", 3, 300, clock=clock)
    progress.start_wave("pages")
    for _ in range(3):
        clock.now += 0.5
        progress.advance(100)
    progress.finish()
    text = out.getvalue()
    assert text.count("\x1b[2F") == 3  # moved up over the title and the row, redrawn
    assert text.rstrip().endswith("111111111111  us-east-1      pages           1s  3/3 files, 300 B/300 B, 200 B/s")


def test_format_bytes() -> None:
    assert [format_bytes(n) for n in (0, 1023, 1024, 1536, 5 * 1024 ** 2, 3 * 1024 ** 3)] == [
        "0 B", "1023 B", "1.0 KB", "1.5 KB", "5.0 MB", "3.0 GB"]
