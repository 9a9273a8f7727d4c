"""MorphTx throughput against CharTx, in one run, on real text (issue 3, §5).

    .venv/bin/python bench/bench_morphtx.py [--input ../shared/data/arabic/ar_pud-ud-test.conllu] [--memo-lines 200]

Measures characters per second, single process, of: `chartx`; `morphtx` with a cold analyzer
(fresh mishkal + qalsadi, empty memo: a user's first run); `morphtx` again over the same text
(every distinct token memoised); and, on the first --memo-lines lines, a cold `morphtx` with and
without the per-distinct-token memo, to show what memoisation buys. Outputs are checked for the
same token counts. Prints a Markdown block for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from augment.analyzers import clear_analyzers, get_analyzer
from augment.report import read_texts
from augment.text import tokenize
from augment.transliterate import Transliterator


def timed(transliterator: Transliterator, lines: list[str]) -> tuple[float, list[str]]:
    started = time.perf_counter()
    output = [transliterator.transliterate(line) for line in lines]
    return time.perf_counter() - started, output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "data" / "arabic" / "ar_pud-ud-test.conllu")
    parser.add_argument("--memo-lines", type=int, default=200)
    args = parser.parse_args()
    lines = read_texts(args.input)
    n_chars = sum(map(len, lines))
    tokens = [token for line in lines for token in tokenize(line)]
    print(f"input: {args.input.name}, {len(lines)} lines, {n_chars:,} chars, {len(tokens):,} tokens, "
          f"{len(set(tokens)):,} distinct", file=sys.stderr)

    chartx_seconds, _ = timed(Transliterator("chartx"), lines)
    clear_analyzers()
    morphtx = Transliterator("morphtx")
    cold_seconds, cold_output = timed(morphtx, lines)
    stats = dict(get_analyzer("offline").stats)
    warm_seconds, warm_output = timed(morphtx, lines)
    assert cold_output == warm_output

    subset = lines[:args.memo_lines]
    subset_chars = sum(map(len, subset))
    clear_analyzers()
    memo_seconds, memo_output = timed(Transliterator("morphtx"), subset)
    clear_analyzers()
    unmemoised = Transliterator("morphtx")
    analyzer = get_analyzer("offline")
    analyzer._memo = _NoMemo()  # every occurrence analysed again
    no_memo_seconds, no_memo_output = timed(unmemoised, subset)
    assert memo_output == no_memo_output

    rate = lambda chars, seconds: chars / seconds  # noqa: E731
    rows = [
        ("chartx", n_chars, chartx_seconds, None),
        ("morphtx, cold analyzer", n_chars, cold_seconds, chartx_seconds),
        ("morphtx, second pass (memo warm)", n_chars, warm_seconds, chartx_seconds),
        (f"morphtx, cold, memo on (first {len(subset)} lines)", subset_chars, memo_seconds, None),
        (f"morphtx, cold, memo off (first {len(subset)} lines)", subset_chars, no_memo_seconds, None),
    ]
    print("| run | chars | seconds | chars/s | vs chartx |")
    print("|---|---|---|---|---|")
    for name, chars, seconds, baseline in rows:
        ratio = "" if baseline is None else f"{baseline / seconds:.4f}x"
        print(f"| {name} | {chars:,} | {seconds:.2f} | {rate(chars, seconds):,.0f} | {ratio} |")
    print(f"\nmemo speed-up on the first {len(subset)} lines: {no_memo_seconds / memo_seconds:.2f}x; "
          f"analyzer outcomes (one pass): {stats}")
    return 0


class _NoMemo(dict):
    """A memo that never remembers (for the memo-off measurement only)."""

    def __setitem__(self, key, value) -> None:
        pass


if __name__ == "__main__":
    sys.exit(main())
