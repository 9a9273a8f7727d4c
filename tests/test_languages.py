"""`augkit languages rank` and augment.uriel: URIEL+ distances, checked against URIEL+ itself; its
working copy outside site-packages; format_sft's `auxiliary: auto` and the dataset card."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from augment.cli import main
from augment.errors import AugkitError
from augment.model_languages import covered
from augment.uriel import DISTANCES, Uriel, load, parse_by

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("augkit-cache")
    previous = os.environ.get("AUGKIT_CACHE")
    os.environ["AUGKIT_CACHE"] = str(folder)
    yield folder
    if previous is None:
        del os.environ["AUGKIT_CACHE"]
    else:
        os.environ["AUGKIT_CACHE"] = previous


@pytest.fixture(scope="module")
def uriel(cache):
    return load()  # the instance the CLI and format_sft use in this process


def rank_lines(capsys, *argv) -> list[list[str]]:
    assert main(["languages", "rank", *argv]) == 0
    return [line.split("\t") for line in capsys.readouterr().out.splitlines()]


def test_rank_genetic_holds_the_published_facts(cache, capsys):
    lines = rank_lines(capsys, "--target", "mt", "--candidates", "ar,he,it,en,zh", "--by", "genetic")
    assert [code for code, _ in lines] == ["ar", "he", "it", "en", "zh"]  # ties keep the candidates' order
    distances = {code: float(value) for code, value in lines}
    assert round(distances["ar"], 3) == 0.247 and round(distances["he"], 3) == 0.613
    assert distances["it"] == distances["en"] == distances["zh"] == 1.0


@pytest.mark.parametrize(("by", "distance"), [("geographic", 0.033), ("script", 0.0)])
def test_rank_geographic_and_script_put_italian_first(cache, capsys, by, distance):
    # Any spelling of the codes: FLORES, ISO 639-3, ISO 639-1.
    lines = rank_lines(capsys, "--target", "mlt_Latn", "--candidates", "arb,heb,ita_Latn,en,zh", "--by", by)
    assert lines[0][0] == "ita_Latn" and round(float(lines[0][1]), 3) == distance


def test_a_distance_urielplus_cannot_compute_is_missing_with_its_reason(cache, capsys):
    lines = rank_lines(capsys, "--target", "mt", "--candidates", "ar,it,xq", "--by", "syntactic")
    assert lines[0] == ["it", "0.0000"]
    assert lines[1] == ["ar", "missing", "no syntactic feature is known for both mlt and arb"]
    assert lines[2][:2] == ["xq", "missing"] and "does not know" in lines[2][2]
    assert main(["languages", "rank", "--target", "mt", "--candidates", "ar,it", "--by", "syntactic", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["missing"][0]["distance"] is None and result["missing_count"] == 1
    assert result["signature"] == "uriel+:1.3.2|by:syntactic|metric:angular|agg:U"


def test_weighted_combination_is_the_weighted_mean_and_missing_when_a_part_is(uriel):
    ranking = uriel.rank("mt", ["ar", "it", "he"], parse_by("genetic=3,script=1"))
    for item in ranking.ranked:
        genetic, script = item.components["genetic"], item.components["script"]
        assert item.distance == round((3 * genetic + script) / 4, 4)
    assert [r.distance for r in ranking.ranked] == sorted(r.distance for r in ranking.ranked)
    with_syntax = uriel.rank("mt", ["ar", "it"], parse_by("genetic=0.5,syntactic=0.5"))
    assert [r.code for r in with_syntax.ranked] == ["it"]
    assert with_syntax.missing[0].code == "ar" and "syntactic" in with_syntax.missing[0].reason


@pytest.mark.parametrize("bad", ["", "genetc", "genetic=0", "genetic=-1", "genetic=x", "genetic,genetic"])
def test_parse_by_rejects_bad_specs(bad):
    with pytest.raises(AugkitError):
        parse_by(bad)


def test_vectorised_distances_equal_urielplus_new_distance(uriel):
    """The reference implementation: URIEL+'s own pairwise `new_distance`, on sampled pairs of every
    distance (its rounding of float32 sums may differ in the last of its 4 decimals)."""
    plus = uriel._urielplus
    rng = random.Random(7)
    for kind in DISTANCES:
        for target in ["mlt", "bod", *rng.sample(uriel.languages, 2)]:
            others = [*rng.sample(uriel.languages, 2), "heb", "ita"]
            for other, (value, reason) in zip(others, uriel.distances(kind, target, others), strict=True):
                try:
                    expected = plus.new_distance(kind, [target, other])
                except ValueError:
                    expected = None
                if expected is None:
                    assert value is None and reason, (kind, target, other)
                else:
                    assert value is not None and abs(value - expected) <= 1e-4 + 1e-12, (kind, target, other, value, expected)


def test_rank_every_language_and_model_coverage(cache, capsys):
    lines = rank_lines(capsys, "--target", "mt", "--top", "3", "--by", "geographic")
    assert len(lines) == 3 and "mlt" not in [code for code, _ in lines]
    assert [float(d) for _, d in lines] == sorted(float(d) for _, d in lines)
    lines = rank_lines(capsys, "--target", "mt", "--available", "nllb", "--top", "4", "--by", "genetic")
    # Glottolog puts Maltese beside Tunisian Arabic: both at 0, then the other Arabic varieties.
    assert sorted(lines[:2]) == [["aeb_Arab", "0.0000"], ["mlt_Latn", "0.0000"]]
    assert all(code.endswith("_Arab") for code, _ in lines[2:])
    assert "mt" not in covered("m2m") and "mlt_Latn" in covered("nllb") and "mt" in covered("madlad")
    assert len(covered("nllb")) == 202 and len(covered("m2m")) == 100 and "mlt_Latn" in covered("lid176")


def test_bad_requests_are_one_line_errors(cache, capsys):
    assert main(["languages", "rank", "--target", "qq", "--candidates", "ar"]) == 2
    assert "does not know the target language 'qq'" in capsys.readouterr().err
    assert main(["languages", "rank", "--target", "mt"]) == 2
    assert main(["languages", "rank", "--target", "mt", "--candidates", "ar", "--by", "typo"]) == 2
    assert "unknown distance 'typo'" in capsys.readouterr().err


def test_working_copy_is_in_the_cache_and_checked(uriel, cache):
    database = cache / "urielplus" / uriel.version / "database"
    copy = database / "script_features.npz"
    original = copy.read_bytes()
    copy.write_bytes(b"not a matrix")  # a damaged cache is not trusted: it is copied again
    assert Uriel(cache).rank("mt", ["it"], parse_by("script")).ranked[0].distance == 0.0
    assert copy.read_bytes() == original


def test_works_with_a_read_only_urielplus_installation(tmp_path):
    """A copy of the installed package, made read-only, is imported first: ranking works and nothing
    is written into it (the check does not rely on permissions, which do not bind root)."""
    import urielplus

    site = tmp_path / "site"
    shutil.copytree(Path(urielplus.__file__).parent, site / "urielplus")
    before = sorted(str(p.relative_to(site)) for p in site.rglob("*"))
    for path in site.rglob("*"):
        path.chmod(0o555 if path.is_dir() else 0o444)
    environment = {**os.environ, "AUGKIT_CACHE": str(tmp_path / "cache"), "PYTHONDONTWRITEBYTECODE": "1",
                   "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    script = ("import sys, urielplus; from augment.cli import main; assert urielplus.__file__.startswith(sys.argv[1]); "
              "sys.exit(main(['languages', 'rank', '--target', 'mt', '--candidates', 'ar,he', '--by', 'genetic']))")
    result = subprocess.run([sys.executable, "-c", script, str(site)], env=environment, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["ar\t0.2468", "he\t0.6128"]
    assert "INFO" not in result.stderr  # URIEL+'s root-logger configuration is undone
    assert sorted(str(p.relative_to(site)) for p in site.rglob("*")) == before
    assert (tmp_path / "cache" / "urielplus" / "1.3.2" / "database" / "features.npz").is_file()


# --- format_sft's auxiliary: auto, and the dataset card ---------------------------------------------

def parallel(record_id, **translations):
    return {"id": record_id, "text": "Il-kelb rieqed.", "lang": "mlt_Latn", "source": "p", "doc": None,
            "meta": {"translations": translations}}


def test_format_sft_auto_auxiliary_is_the_nearest_present_language(cache):
    from corpora.stages.formatters import FormatSft

    templates = {"*": ["{source_lang}: {source}\n{auxiliary}{target_lang}:"]}
    records = [parallel("x:1", eng_Latn="The dog sleeps.", arb_Arab="الكلب نائم.", ita_Latn="Il cane dorme."),
               parallel("x:2", eng_Latn="The dog sleeps.", ita_Latn="Il cane dorme."),
               parallel("x:3", eng_Latn="The dog sleeps.")]
    by_genetic = FormatSft(directions=("en-mt",), auxiliary={"en-mt": "auto"}, templates=templates).process(records)
    chosen = [(r["meta"]["auxiliary"], r["meta"]["auxiliary_by"]) for r in by_genetic.kept]
    signature = "uriel+:1.3.2|by:genetic|metric:angular|agg:U"
    assert chosen == [("arb_Arab", signature), ("ita_Latn", signature), (None, signature)]
    assert by_genetic.kept[0]["messages"][0]["content"] == "English: The dog sleeps.\nStandard Arabic: الكلب نائم.\nMaltese:"
    by_place = FormatSft(directions=("en-mt",), auxiliary={"en-mt": "auto"}, auxiliary_by="geographic",
                         templates=templates).process(records[:1])
    assert by_place.kept[0]["meta"]["auxiliary"] == "ita_Latn"
    fixed = FormatSft(directions=("en-mt",), auxiliary={"en-mt": "it"}, templates=templates).process(records[:1])
    assert fixed.kept[0]["meta"]["auxiliary"] == "ita_Latn" and "auxiliary_by" not in fixed.kept[0]["meta"]
    with pytest.raises(ValueError, match="auxiliary_by"):
        FormatSft(directions=("en-mt",), auxiliary={"en-mt": "auto"}, auxiliary_by="closeness", templates=templates)


def test_build_with_auto_auxiliary_names_the_distance_in_the_card(cache, tmp_path, capsys):
    rows = [{"id": str(i), "text": f"Il-kelb numru {i} rieqed.",
             "translations": {"eng_Latn": f"Dog number {i} sleeps.", "arb_Arab": f"الكلب رقم {i} نائم.",
                              "ita_Latn": f"Il cane numero {i} dorme."}} for i in range(6)]
    data = tmp_path / "parallel.jsonl"
    data.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"""name: auto-auxiliary
seed: 1
sources:
  - {{name: p, format: jsonl, path: "{data}", lang: mt, meta_fields: [translations]}}
stages:
  - stage: format_sft
    directions: [en-mt]
    auxiliary: {{en-mt: auto}}
    auxiliary_by: geographic
    templates: {{"*": ["{{source_lang}}: {{source}}\\n{{auxiliary}}{{target_lang}}:"]}}
outputs:
  - {{format: jsonl, path: sft}}
""", encoding="utf-8")
    assert main(["build", str(recipe), "--output", str(tmp_path / "out")]) == 0
    examples = [json.loads(line) for path in sorted((tmp_path / "out" / "sft").glob("*.jsonl"))
                for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(examples) == 6 and {e["meta"]["auxiliary"] for e in examples} == {"ita_Latn"}
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "## Auxiliary languages (Parallel Multilingual Prompting)" in card
    assert "| eng_Latn-mlt_Latn | ita_Latn | nearest to the target by URIEL+ distance " \
           "(`uriel+:1.3.2\\|by:geographic\\|metric:angular\\|agg:U`) | 6 |" in card
