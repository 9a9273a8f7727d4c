"""Agreement of augkit's `chartx`, `buckwalter` and `uroman` with the published code itself (issue 12 §4).

The published code (MLRS/maltify_arabic) needs camel-tools, torch and transformers, which augkit
does not depend on, so it runs in a throwaway virtual environment; this script has two halves:

    # 1. in augkit's venv: write the inputs (an independent generated set and the real corpora)
    .venv/bin/python bench/published_agreement.py write --output /tmp/agreement
    # 2. in the throwaway venv, with a checkout of the published code (no augkit needed there)
    CAMELTOOLS_DATA=/tmp/ctdata /tmp/pubvenv/bin/python bench/published_agreement.py run-published \
        --published /tmp/maltify --output /tmp/agreement
    # 3. in augkit's venv: compare, line by line
    .venv/bin/python bench/published_agreement.py compare --output /tmp/agreement

docs/transliteration.md ("Agreement with the published code") records how the throwaway venv was
made and the numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCHEMES = ("chartx", "buckwalter", "uroman")
GENERATED_SEED = 4242  # not the fuzz test's seed: an independent set
GENERATED_COUNT = 20_000
CORPORA = ("ar_pud-ud-test.conllu", "quran-simple.txt", "alf_layla.txt")


def read_lines(path: Path) -> list[str]:
    if path.suffix == ".conllu":
        prefix = "# text = "
        return [line[len(prefix):] for line in path.read_text(encoding="utf-8").split("\n") if line.startswith(prefix)]
    return path.read_text(encoding="utf-8").split("\n")


def write_inputs(output: Path, shared: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from fuzz_text import generate

    output.mkdir(parents=True, exist_ok=True)
    sets = {"generated": generate(GENERATED_COUNT, GENERATED_SEED)}
    for name in CORPORA:
        if (shared / "arabic" / name).is_file():
            sets[name] = read_lines(shared / "arabic" / name)
    (output / "inputs.json").write_text(json.dumps(sets, ensure_ascii=False), encoding="utf-8")


def run_published(output: Path, published: Path) -> None:
    """Runs inside the throwaway venv: the published functions, unmodified, on every input line."""
    sys.path.insert(0, str(published))
    from baseline import transliterate as baseline
    from rules import transliterate as rules

    functions = {
        "chartx": lambda text: rules.transliterate(text, diacritisation=False),  # README: CharTx = --no_diacritisation
        "buckwalter": lambda text: baseline.transliterate(text, baseline.SCHEMES["buckwalter"]),
        "uroman": lambda text: baseline.transliterate(text, baseline.SCHEMES["uroman"]),
    }
    sets = json.loads((output / "inputs.json").read_text(encoding="utf-8"))
    results = {scheme: {name: [function(text) for text in texts] for name, texts in sets.items()}
               for scheme, function in functions.items()}
    (output / "published.json").write_text(json.dumps(results, ensure_ascii=False), encoding="utf-8")


def compare(output: Path) -> int:
    sys.path.insert(0, str(ROOT))
    from augment import Transliterator

    sets = json.loads((output / "inputs.json").read_text(encoding="utf-8"))
    published = json.loads((output / "published.json").read_text(encoding="utf-8"))
    print("| scheme | input | lines | identical | agreement |")
    print("|---|---|---|---|---|")
    differences = {}
    for scheme in SCHEMES:
        transliterator = Transliterator(scheme)
        for name, texts in sets.items():
            got = transliterator.transliterate_many(texts)
            expected = published[scheme][name]
            differing = [(text, a, b) for text, a, b in zip(texts, got, expected, strict=True) if a != b]
            differences[f"{scheme}/{name}"] = differing[:20]
            same = len(texts) - len(differing)
            print(f"| `{scheme}` | {name} | {len(texts):,} | {same:,} | {100 * same / len(texts):.3f}% |")
    (output / "differences.json").write_text(json.dumps(differences, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["write", "run-published", "compare"])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--published", type=Path, help="a checkout of MLRS/maltify_arabic (run-published)")
    args = parser.parse_args()
    if args.step == "write":
        write_inputs(args.output, args.shared)
    elif args.step == "run-published":
        run_published(args.output, args.published)
    else:
        return compare(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
