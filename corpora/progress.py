"""Progress of a build step for the user: records done, rate and, when the total is known, ETA.

On a terminal it is a live bar (tqdm); otherwise (a log file, CI, `nohup`) one line every
`PROGRESS_SECONDS` seconds, the first after that long, so quick steps print nothing extra.
"""

from __future__ import annotations

import sys
import time

PROGRESS_SECONDS = 5.0


class Progress:
    def __init__(self, label: str, total: int | None = None, every: float | None = None, enabled: bool = True):
        self.label, self.total, self.enabled = label, total, enabled
        self.every = PROGRESS_SECONDS if every is None else every
        self.done = 0
        self.started = self.last = time.monotonic()
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=label, unit=" rec", unit_scale=True, leave=False, file=sys.stderr,
                            delay=1.0)

    def advance(self, count: int) -> None:
        self.done += count
        if self.bar is not None:
            self.bar.update(count)
            return
        now = time.monotonic()
        if self.enabled and now - self.last >= self.every:
            self.last = now
            print(self.line(now), file=sys.stderr, flush=True)

    def line(self, now: float) -> str:
        rate = self.done / max(now - self.started, 1e-9)
        if self.total is None:
            return f"  {self.label}: {self.done:,} records, {rate:,.0f} records/s"
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta = "unknown" if left == float("inf") else f"{int(left) // 3600}:{int(left) % 3600 // 60:02d}:{int(left) % 60:02d}"
        share = self.done / self.total if self.total else 1.0
        return (f"  {self.label}: {self.done:,} of {self.total:,} records ({share:.0%}), {rate:,.0f} records/s, "
                f"ETA {eta}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
