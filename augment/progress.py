"""Progress of a long-running command on stderr, the same way in every command.

On a terminal, a tqdm bar (shown once the work has run for two seconds). Anywhere else (a log
file, a pipe, a batch job) a plain line every few seconds, so a long run is never silent:

    augkit transliterate: 120,000 lines, 4,012 lines/s, 30 s elapsed
    augkit build 06-split: 40,000 records of 100,000 (40%), 1,333 records/s, 30 s elapsed, ETA 0:00:45

`quiet` (the commands' `-q`) prints nothing. The interval of the plain lines is 5 seconds, or
`$AUGKIT_PROGRESS_SECONDS`. Nothing is printed at the end: commands print their own summary.

    with Progress("augkit transliterate", "lines", quiet=args.quiet) as progress:
        for batch in batches:
            ...
            progress.update(len(batch))

`detail` is a function giving extra text (e.g. a decoding rate), called only when a line or the
bar is drawn.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

DEFAULT_SECONDS = 5.0
_BAR_DELAY = 2.0
_DETAIL_SECONDS = 0.5  # how often the bar's detail text is recomputed


class Progress:
    def __init__(self, name: str, unit: str, *, quiet: bool = False, total: int | None = None,
                 detail: Callable[[], str] | None = None, seconds: float | None = None,
                 stream: TextIO | None = None):
        self.name, self.unit, self.total, self.detail = name, unit, total, detail
        self.count = 0
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.monotonic()
        self._bar = None
        self._quiet = quiet
        self._seconds = seconds if seconds is not None else _seconds_from_environment()
        self._next = self.started + self._seconds
        if not quiet and _is_terminal(self.stream):
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit=f" {unit}", desc=name, delay=_BAR_DELAY, file=self.stream,
                             dynamic_ncols=True)

    def update(self, count: int = 1) -> None:
        self.count += count
        if self._quiet:
            return
        now = time.monotonic()
        if self._bar is not None:
            if self.detail is not None and now >= self._next:
                self._bar.set_postfix_str(self.detail(), refresh=False)
                self._next = now + _DETAIL_SECONDS
            self._bar.update(count)
        elif now >= self._next:
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()
            self._next = now + self._seconds

    def line(self, now: float | None = None) -> str:
        """`NAME: 120,000 lines[ of 300,000 (40%)], 4,012 lines/s, 30 s elapsed[, ETA 0:00:45][, detail]`."""
        elapsed = (now if now is not None else time.monotonic()) - self.started
        rate = self.count / elapsed if elapsed > 0 else 0.0
        share = f" of {self.total:,} ({self.count / self.total:.0%})" if self.total else ""
        speed = f", {rate:,.0f} {self.unit}/s" if rate else ""
        eta = ""
        if self.total and rate:
            left = max(self.total - self.count, 0) / rate
            eta = f", ETA {int(left) // 3600}:{int(left) % 3600 // 60:02d}:{int(left) % 60:02d}"
        detail = f", {self.detail()}" if self.detail is not None else ""
        return f"{self.name}: {self.count:,} {self.unit}{share}{speed}, {elapsed:,.0f} s elapsed{eta}{detail}"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def _seconds_from_environment() -> float:
    value = os.environ.get("AUGKIT_PROGRESS_SECONDS")
    if not value:
        return DEFAULT_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        return DEFAULT_SECONDS
    return max(seconds, 0.0)
