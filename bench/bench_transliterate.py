"""Characters per second of `chartx` against a plain mirror of the published code (issue 2 §9, issue 15 §2).

    .venv/bin/python bench/bench_transliterate.py [--shared ../shared/data] [--repeat 3] [--scale-copies 8]

1. Single process, on two inputs: real text (alf_layla.txt + quran-simple.txt, not repeated) and
   the differential fuzz test's generated set (tests/fuzz_text.py, 20,000 hostile strings: few
   repeated words, emoji, invisible characters, Maltese post-processing triggers). The baseline is
   tests/published_mirror.py (the published code line by line: camel-tools' tokenizer as a plain
   loop, str.replace per rule per token with <BOS>/<EOS>, one re.sub per post-processing step;
   the published code itself tokenizes with a 12,000-branch regex and is far slower, see
   bench/published_agreement.py); augkit is `Transliterator.transliterate_many` on a fresh
   instance (cold caches; both start from a loaded rule table). Best of `--repeat` runs each, as
   wall-clock and as CPU time of this process (the machine may be shared); the outputs must be
   identical, line for line.
2. Scaling: a larger input (the three Arabic files repeated `--scale-copies` times; later copies
   hit each worker's word cache, as a large corpus's frequent words do) with 1 and 2 worker
   processes, each with its own Transliterator over a contiguous shard (wall-clock, including
   starting the workers, which inherit the input by fork).
Prints a Markdown block for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fuzz_text import generate  # noqa: E402
from published_mirror import published_mappings, transliterate_rules  # noqa: E402

from augment import Transliterator  # noqa: E402

FILES = ("alf_layla.txt", "quran-simple.txt")
SCALE_FILES = ("alf_layla.txt", "quran-simple.txt", "ar_pud-ud-test.conllu")


def read(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")


def best_of(repeat: int, function, setup=lambda: None):
    """(best wall-clock seconds, best CPU seconds, result) over `repeat` runs of function(setup())."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        prepared = setup()
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function(prepared)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    return min(walls), min(cpus), result


# The scaling input, set before the worker processes fork so that they inherit it instead of
# receiving it through a pipe; each worker is only told which slice is its shard.
SCALE_LINES: list[str] = []


def shard_chars(bounds: tuple[int, int]) -> int:
    lines = SCALE_LINES[bounds[0]:bounds[1]]
    return sum(len(line) for line in Transliterator("chartx").transliterate_many(lines))


def scaling(workers: int) -> float:
    size = -(-len(SCALE_LINES) // workers)
    shards = [(i, i + size) for i in range(0, len(SCALE_LINES), size)]
    context = multiprocessing.get_context("fork")
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        list(pool.map(shard_chars, shards))
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale-copies", type=int, default=8)
    args = parser.parse_args()
    arabic = args.shared / "arabic"
    if not arabic.is_dir():
        print(f"needs the real corpora at {arabic}", file=sys.stderr)
        return 2

    mappings = published_mappings([(rule.pattern, rule.output) for rule in Transliterator("chartx").scheme.rules])
    inputs = {f"{' + '.join(FILES)}": [line for name in FILES for line in read(arabic / name)],
              "fuzz set (tests/fuzz_text.py, 20,000 strings)": generate(20_000, 20251120)}
    rows, mismatches = [], 0
    for label, lines in inputs.items():
        chars = sum(len(line) for line in lines)
        # Both start from a loaded rule table; the Transliterator is a fresh one (empty caches) each run.
        naive_seconds, naive_cpu, expected = best_of(args.repeat, lambda _, lines=lines: [
            transliterate_rules(line, mappings) for line in lines])
        fast_seconds, fast_cpu, got = best_of(args.repeat, lambda chartx, lines=lines: chartx.transliterate_many(lines),
                                              setup=lambda: Transliterator("chartx"))
        differing = sum(a != b for a, b in zip(expected, got, strict=True))
        mismatches += differing
        rows.append(f"| {label}: {len(lines):,} lines, {chars:,} characters | mirror of the published code | "
                    f"{naive_seconds:.3f} | {chars / naive_seconds:,.0f} | 1.0× | {naive_cpu:.3f} | 1.0× |  |\n"
                    f"|  | augkit chartx (`transliterate_many`) | {fast_seconds:.3f} | {chars / fast_seconds:,.0f} | "
                    f"{naive_seconds / fast_seconds:.1f}× | {fast_cpu:.3f} | {naive_cpu / fast_cpu:.1f}× | "
                    f"{differing} |")

    base = [line for name in SCALE_FILES for line in read(arabic / name)]
    SCALE_LINES[:] = base * args.scale_copies
    large_chars = sum(len(line) for line in SCALE_LINES)
    one = min(scaling(1) for _ in range(2))
    two = min(scaling(2) for _ in range(2))

    cpu = os.cpu_count()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"""### {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, {cpu} cores, load average {load}

`.venv/bin/python bench/bench_transliterate.py --repeat {args.repeat} --scale-copies {args.scale_copies}`

Single process, best of {args.repeat}, cold caches:

| input | implementation | wall s | characters/s (wall) | ratio (wall) | CPU s | ratio (CPU) | lines differing |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Scaling, {len(SCALE_FILES)} Arabic files × {args.scale_copies} copies = {len(SCALE_LINES):,} lines, {large_chars:,} characters:

| processes | seconds | characters/s | speed-up |
|---|---|---|---|
| 1 | {one:.3f} | {large_chars / one:,.0f} | 1.0× |
| 2 | {two:.3f} | {large_chars / two:,.0f} | {one / two:.2f}× |
""")
    return 0 if mismatches == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
