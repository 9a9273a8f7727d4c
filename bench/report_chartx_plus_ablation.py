"""Measure each chartx-plus fix alone: CharTx + one fix, on the corpora where the fix can matter.

    .venv/bin/python bench/report_chartx_plus_ablation.py [--shared ../shared/data] [--output DIR]

Writes one transliterate-report (JSON + Markdown) per corpus into DIR (default
./chartx_plus_ablation) and prints the tables. Fix letters are those of
schemes/chartx-plus/manifest.yaml (E, F: rejected hamza-seat candidates). The Quran is also scored in
Unicode NFC order (vowel before shadda), the order most web text has.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import unicodedata
from pathlib import Path

from augment.report import build_report
from augment.schemes import SCHEMES_DIR

FIXES = "ABCDEFG"
# Hamza-seat candidates E and F were measured and rejected (docs/morphtx.md): chartx-plus lacks their rows.
REJECTED = {
    "E": ["\\A\\u0623\ta\tfix E: word-initial bare أ -> a (CharTx rule 103 deletes it)",
          "\\A\\u0625\ti\tfix E: word-initial bare إ -> i (CharTx rule 104 deletes it)"],
    "F": ["\\u0626\tj\tfix F: bare ئ -> j (CharTx rule 109 gives i)",
          "\\u0624\tw\tfix F: bare ؤ -> w (CharTx rule 110 gives u)"],
}
PLUS = SCHEMES_DIR / "chartx-plus"
CHARTX_RULES = SCHEMES_DIR / "chartx" / "rules.tsv"


def fix_rows(path: Path, fix: str) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.split("\t")[-1].startswith(f"fix {fix}:")]


def write_variant(folder: Path, fix: str) -> Path:
    """A scheme folder with CharTx plus one fix, laid out like chartx-plus."""
    variant = folder / f"chartx+{fix}"
    variant.mkdir()
    header = "pattern\toutput\tcomment\n"
    (variant / "before.tsv").write_text(header + "".join(r + "\n" for r in fix_rows(PLUS / "rules_before.tsv", fix)),
                                        encoding="utf-8")
    after = fix_rows(PLUS / "rules_overrides.tsv", fix) + REJECTED.get(fix, [])
    (variant / "after.tsv").write_text(header + "".join(r + "\n" for r in after), encoding="utf-8")
    (variant / "manifest.yaml").write_text(
        f"name: chartx+{fix}\nversion: 1\ndescription: CharTx plus chartx-plus fix {fix} alone\ncitation: ''\n"
        "source_script: Arab\ntarget: mlt_Latn\ntokenizer: punct\ntransform: rules\n"
        f"rules: [before.tsv, {CHARTX_RULES}, after.tsv]\npostprocess: maltese\n", encoding="utf-8")
    return variant / "manifest.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--output", type=Path, default=Path("chartx_plus_ablation"))
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    reference = args.shared / "maltese" / "mt_mudt-ud-train.conllu"
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        variants = [str(write_variant(folder, fix)) for fix in FIXES]
        quran_nfc = folder / "quran-nfc.txt"
        quran_nfc.write_text(unicodedata.normalize("NFC", (args.shared / "arabic" / "quran-simple.txt")
                                                   .read_text(encoding="utf-8")), encoding="utf-8")
        corpora = {
            "pud": args.shared / "arabic" / "ar_pud-ud-test.conllu",
            "alf_layla": args.shared / "arabic" / "alf_layla.txt",
            "quran": args.shared / "arabic" / "quran-simple.txt",
            "quran_nfc": quran_nfc,
        }
        for name, path in corpora.items():
            report = build_report(path, reference, ["chartx", *variants, "chartx-plus"])
            for row in report.rows:  # temporary paths -> short names
                row.scheme = Path(row.scheme).parent.name if row.scheme.endswith(".yaml") else row.scheme
            report.input = str(path) if name != "quran_nfc" else "quran-simple.txt in NFC order"
            (args.output / f"{name}.json").write_text(report.to_json(), encoding="utf-8")
            (args.output / f"{name}.md").write_text(report.to_markdown(), encoding="utf-8")
            sys.stdout.write(f"\n## {name}\n\n{report.to_markdown()}")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
