"""`augkit transliterate --num-proc N` and `transliterate_batches`: the same bytes as one process,
in order, for every format; the workers' analyzer counters reach the summary."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from augment.transliterate import Transliterator, transliterate_batches

LINES = ["الكلب في البيت بالليل", "", "hello 12", "ومدرسته كتبوا سيكتبون", "لبعضهم على الكلب", "بِسْمِ اللَّهِ"]


def augkit(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "augment.cli", *argv], input=stdin, capture_output=True,
                          text=True, check=True)


@pytest.mark.parametrize("scheme", ["chartx", "morphtx"])
def test_batches_in_workers_equal_one_process(tmp_path, scheme):
    batches = [LINES[i:i + 2] for i in range(0, len(LINES), 2)] + [[["الكلب", "في"], None, "البيت"]]
    alone = Transliterator(scheme, analysis_cache="none")
    expected = [alone.transliterate_values(batch) for batch in batches]
    parallel = Transliterator(scheme, analysis_cache=tmp_path / "a.sqlite")
    assert list(transliterate_batches(parallel, batches, num_proc=2)) == expected
    if scheme == "morphtx":  # every worker's counts were added to the parent's analyzer
        assert parallel.analyzer.stats == alone.analyzer.stats
        assert sum(parallel.analyzer.served.values()) == sum(alone.analyzer.served.values())


def test_cli_num_proc_gives_the_same_bytes_for_every_format(tmp_path):
    lines = [f"{line} {n}" for n in range(300) for line in LINES[:2]]  # 600 lines: several batches
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"text": line, "n": n}, ensure_ascii=False) + "\n"
                                               for n, line in enumerate(lines)), encoding="utf-8")
    (tmp_path / "in.conllu").write_text("".join(
        f"# sent_id = {n}\n" + "".join(f"{i}\t{word}\t_\tX\t_\t_\t0\troot\t_\t_\n"
                                       for i, word in enumerate(line.split() or ["."], start=1)) + "\n"
        for n, line in enumerate(lines)), encoding="utf-8")
    for fmt in ("txt", "jsonl", "conllu"):
        outputs = {}
        for num_proc in ("1", "2"):
            target = tmp_path / f"out-{num_proc}.{fmt}"
            result = augkit("transliterate", "-s", "morphtx", "-i", str(tmp_path / f"in.{fmt}"), "-o", str(target),
                            "-j", num_proc, "--analysis-cache", str(tmp_path / f"{fmt}-{num_proc}.sqlite"))
            outputs[num_proc] = target.read_bytes()
            summary = [line for line in result.stderr.splitlines() if "Arabic tokens" in line]
            assert len(summary) == 1 and "computed" in summary[0]
        assert outputs["1"] == outputs["2"], fmt


@pytest.mark.shared_data
def test_real_text_with_two_processes(shared_data, tmp_path):
    quran = (shared_data / "arabic" / "quran-simple.txt").read_text(encoding="utf-8").splitlines()[:120]
    source = tmp_path / "quran.txt"
    source.write_text("\n".join(quran) + "\n", encoding="utf-8")
    for scheme in ("chartx", "morphtx"):
        one = augkit("transliterate", "-q", "-s", scheme, "-i", str(source), "--analysis-cache", "none").stdout
        two = augkit("transliterate", "-q", "-s", scheme, "-i", str(source), "-j", "2",
                     "--analysis-cache", str(tmp_path / f"{scheme}.sqlite")).stdout
        assert one == two and one.count("\n") == len(quran)
