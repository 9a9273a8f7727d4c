"""augment.progress: plain periodic lines when stderr is not a terminal, a tqdm bar when it is."""

from __future__ import annotations

import io

from augment.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_when_not_a_terminal():
    stream = io.StringIO()
    with Progress("augkit x", "lines", seconds=0, total=8, detail=lambda: "3 tok/s", stream=stream) as progress:
        progress.update(2)
        progress.update(2)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[1].startswith("augkit x: 4 lines of 8 (50%), ") and lines[1].endswith(", 3 tok/s")
    assert " lines/s, " in lines[1] and " s elapsed, ETA 0:00:" in lines[1]


def test_nothing_before_the_interval_and_nothing_when_quiet(monkeypatch):
    stream = io.StringIO()
    with Progress("augkit x", "lines", seconds=3600, stream=stream) as progress:
        progress.update(10)
    assert stream.getvalue() == "" and progress.count == 10
    with Progress("augkit x", "lines", quiet=True, seconds=0, stream=stream) as progress:
        progress.update(10)
    assert stream.getvalue() == ""
    monkeypatch.setenv("AUGKIT_PROGRESS_SECONDS", "0")
    with Progress("augkit x", "rows", stream=stream) as progress:
        progress.update(1)
    assert stream.getvalue().startswith("augkit x: 1 rows")


def test_a_terminal_gets_a_bar_not_lines():
    stream = Terminal()
    with Progress("augkit x", "lines", seconds=0, stream=stream) as progress:
        assert progress._bar is not None
        progress.update(5)
    assert "augkit x: 5 lines," not in stream.getvalue()
    quiet = Terminal()
    with Progress("augkit x", "lines", quiet=True, stream=quiet) as progress:
        assert progress._bar is None
        progress.update(5)
    assert quiet.getvalue() == ""
