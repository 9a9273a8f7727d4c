"""MorphTx against CharTx on real text, cold and warm, and the offline analyzer's cold cost against
an earlier commit (issue 3 section 5; issue 15 section 1). Not a test.

    .venv/bin/python bench/bench_morphtx.py [--input ../shared/data/arabic/ar_pud-ud-test.conllu]
        [--baseline 1eb3115] [--repeats 2] [--tokens N]

Every measurement runs in a fresh Python process and reports CPU seconds (`time.process_time`),
which a busy machine disturbs far less than wall time:

1. Cold analyzer: the distinct analysable tokens of the input (text mode), each analysed by a new
   offline analyzer (no persistent cache; the libraries' loading included), with this tree and with
   the `--baseline` commit (default: the last one before the speed-ups), alternated `--repeats`
   times; the best run of each. The analyses are compared (they must be the same).
2. Transliteration of the input with `transliterate_many` (what `augkit transliterate` calls):
   `chartx`; `morphtx` cold (empty analysis cache); `morphtx` again in the same process (every
   token in memory); `morphtx` in a new process with the analysis cache left by the cold run (the
   "second run"). Outputs are checked to be identical.
3. The same two runs as whole `augkit transliterate` commands (user + system CPU of the child:
   start-up, imports, reading and writing included), chartx against morphtx's second run.
Prints Markdown for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PUD = ROOT.parent / "shared" / "data" / "arabic" / "ar_pud-ud-test.conllu"

COLD_ANALYZER = """
import hashlib, json, sys, time
sys.path.insert(0, sys.argv[1])
import augment
assert augment.__file__.startswith(sys.argv[1]), augment.__file__
from augment.analyzers.offline import OfflineAnalyzer, is_analyzable
from augment.report import read_texts
from augment.text import tokenize
tokens = list(dict.fromkeys(t for line in read_texts(sys.argv[2]) for t in tokenize(line) if is_analyzable(t)))
tokens = tokens[:int(sys.argv[3])] if int(sys.argv[3]) else tokens
started = time.process_time()
analyzer = OfflineAnalyzer()
entries = [analyzer._analyze_token(token) for token in tokens]
seconds = time.process_time() - started
canonical = [None if a is None else [a.diac, a.lemma, a.state, a.stem_index, [[m.form, m.tag] for m in a.morphemes]]
             for a, _ in entries]
digest = hashlib.sha256(json.dumps([canonical, [o for _, o in entries]], ensure_ascii=False).encode()).hexdigest()
print(json.dumps({"tokens": len(tokens), "cpu_s": seconds, "digest": digest}))
"""

PHASE = """
import hashlib, json, sys, time
from augment.report import read_texts
from augment.transliterate import Transliterator
lines = read_texts(sys.argv[2])
transliterator = Transliterator(sys.argv[1], normalize="arabic", analysis_cache=sys.argv[3])
runs = []
for _ in range(int(sys.argv[4])):
    started = time.process_time()
    output = transliterator.transliterate_many(lines)
    runs.append(time.process_time() - started)
transliterator.flush()
served = dict(transliterator.analyzer.served) if transliterator.analyzer else {}
print(json.dumps({"cpu_s": runs, "served": served,
                  "digest": hashlib.sha256("\\n".join(output).encode()).hexdigest()}))
"""


def python(code: str, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=tempfile.gettempdir())
    if result.returncode != 0:
        raise SystemExit(f"benchmark process failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def baseline_tree(revision: str, target: Path) -> Path:
    archive = subprocess.run(["git", "archive", revision, "augment", "schemes"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def cli_cpu(argv: list[str]) -> float:
    """User + system CPU seconds of one `augkit` command (a child process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "augment.cli", *argv], check=True, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, default=PUD)
    parser.add_argument("--baseline", default="1eb3115", help="commit to compare the cold analyzer with")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=0, help="cold analyzer: only the first N distinct tokens")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
          file=sys.stderr)
    from augment.report import read_texts

    lines = read_texts(args.input)
    chars = sum(map(len, lines))
    with tempfile.TemporaryDirectory(prefix="bench-morphtx-") as scratch:
        scratch = Path(scratch)
        # 1. the cold analyzer, this tree against the baseline commit
        trees = {"this tree": str(ROOT), f"baseline {args.baseline}": str(baseline_tree(args.baseline, scratch))}
        cold: dict[str, list[dict]] = {name: [] for name in trees}
        for _ in range(args.repeats):
            for name, tree in trees.items():  # alternated, so a change of machine load hits both
                cold[name].append(python(COLD_ANALYZER, tree, str(args.input), str(args.tokens)))
        best = {name: min(runs, key=lambda run: run["cpu_s"]) for name, runs in cold.items()}
        (new, old) = best.values()
        assert new["digest"] == old["digest"], "the analyses differ from the baseline's"
        print(f"### Cold offline analyzer, {args.input.name}: {new['tokens']:,} distinct tokens\n")
        print("| code | CPU s | ms per distinct token |\n|---|---|---|")
        for name, run in best.items():
            print(f"| {name} | {run['cpu_s']:.2f} | {run['cpu_s'] / run['tokens'] * 1000:.3f} |")
        print(f"\n{old['cpu_s'] / new['cpu_s']:.2f}x fewer CPU seconds per distinct token, same analyses "
              f"(best of {args.repeats}).\n")

        # 2. transliteration phases, each in a new process
        cache = str(scratch / "analyses.sqlite")
        chartx = python(PHASE, "chartx", str(args.input), "none", "2")
        morphtx = python(PHASE, "morphtx", str(args.input), cache, "2")  # cold, then every token in memory
        second = python(PHASE, "morphtx", str(args.input), cache, "1")  # new process, analysis cache warm
        assert morphtx["digest"] == second["digest"], "the second run's output differs"
        assert second["served"].get("computed", 0) == 0, second["served"]
        chartx_s = min(chartx["cpu_s"])
        rows = [("chartx", chartx_s), ("morphtx, cold (empty analysis cache)", morphtx["cpu_s"][0]),
                ("morphtx, same process again (memo warm)", morphtx["cpu_s"][1]),
                ("morphtx, second run: new process, analysis cache warm", second["cpu_s"][0])]
        print(f"### Transliteration of {args.input.name} ({len(lines):,} lines, {chars:,} chars), "
              "CPU of `transliterate_many`\n")
        print("| run | CPU s | chars/s | x chartx's time |\n|---|---|---|---|")
        for name, seconds in rows:
            print(f"| {name} | {seconds:.3f} | {chars / seconds:,.0f} | {seconds / chartx_s:.2f} |")

        # 3. whole commands
        source = scratch / "input.txt"
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")
        command = ["transliterate", "-q", "--normalize", "arabic", "-i", str(source), "-o", str(scratch / "out.txt")]
        chartx_cli = min(cli_cpu([*command, "-s", "chartx"]) for _ in range(args.repeats))
        morphtx_cli = min(cli_cpu([*command, "-s", "morphtx", "--analysis-cache", cache]) for _ in range(args.repeats))
        print(f"\nWhole `augkit transliterate` (user+sys CPU, start-up included): chartx {chartx_cli:.2f} s, "
              f"morphtx second run {morphtx_cli:.2f} s: {morphtx_cli / chartx_cli:.2f}x chartx's time.")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
