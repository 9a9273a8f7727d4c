"""`augkit abx`: the triplets and their laws, the scores on constructed representations, pooling on a
real tiny model, and the command end to end on the PUD treebanks and MUDT."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from augment.cli import main
from augment.errors import AugkitError
from finetune.abx import (
    AbxSettings,
    Language,
    bootstrap,
    load_languages,
    outcomes,
    parse_assignments,
    plan_pairs,
    score,
    triplets,
)


def parallel_languages(n=12):
    ids = [f"s{i}" for i in range(n)]
    return (Language("l1", [f"one {i}" for i in range(n)], ids, "test"),
            Language("l2", [f"two {i}" for i in range(n)], ids, "test"))


def test_triplets_follow_the_task_definitions():
    first, second = parallel_languages()
    settings = AbxSettings(seed=3, triplets=4)
    form = triplets("form", first, second, settings)
    assert form.shape == (12, 4, 3)
    a, b, x = form[..., 0], form[..., 1], form[..., 2]
    assert (a == np.arange(12)[:, None]).all() and (b == a).all()  # B is A's translation (same id)
    assert (x != a).all() and x.min() >= 0 and x.max() < 12  # X another L1 sentence
    meaning = triplets("meaning", first, second, settings)
    a, b, x = meaning[..., 0], meaning[..., 1], meaning[..., 2]
    assert (x == a).all() and (b != a).all()  # X is A's translation, B another L1 sentence
    mono = Language("mono", [f"m {i}" for i in range(5)], None, "test")
    unpaired = triplets("form-unpaired", mono, first, settings)
    assert unpaired.shape == (5, 4, 3) and (unpaired[..., 2] != unpaired[..., 0]).all()
    assert unpaired[..., 1].max() < 12
    # Seeded per cell: the same triplets whatever else is computed, different with another seed.
    assert (triplets("form", first, second, settings) == form).all()
    assert not (triplets("form", first, second, AbxSettings(seed=4, triplets=4)) == form).all()


def test_translations_only_join_on_shared_ids():
    first = Language("l1", ["a", "b", "c", "d"], ["1", "2", "3", "4"], "test")
    second = Language("l2", ["B", "D", "E"], ["2", "4", "9"], "test")
    positions = triplets("form", first, second, AbxSettings())
    assert positions[:, 0, 0].tolist() == [1, 3] and positions[:, 0, 1].tolist() == [0, 1]


def constructed(meaning_weight: float, language_weight: float, n=40, dim=16, seed=0):
    """Vectors = meaning of the sentence + offset of its language (one layer)."""
    rng = np.random.default_rng(seed)
    meanings = rng.normal(size=(n, dim))
    offsets = rng.normal(size=(2, dim)) * 3
    return [(meaning_weight * meanings + language_weight * offsets[k])[None] for k in range(2)]


def test_scores_on_constructed_representations():
    first, second = parallel_languages(40)
    languages = [first, second]
    settings = AbxSettings(seed=1, triplets=3, bootstrap=200)
    # Translations with identical vectors: the form task cannot tell A from B (all ties: exactly 0.5),
    # the meaning task always can.
    same = constructed(1.0, 0.0)
    rows, _ = score(languages, {"l1": same[0], "l2": same[1]}, [("l1", "l2")], settings)
    by_task = {row.task: row for row in rows}
    assert by_task["form"].score == 0.5 and by_task["form"].ci_low == by_task["form"].ci_high == 0.5
    assert by_task["meaning"].score == 1.0 and by_task["meaning"].n == 120
    # Language only: form is perfect, meaning is a tie everywhere.
    language_only = constructed(0.0, 1.0)
    rows, _ = score(languages, {"l1": language_only[0], "l2": language_only[1]}, [("l1", "l2")], settings)
    by_task = {row.task: row for row in rows}
    assert by_task["form"].score == 1.0 and by_task["meaning"].score == 0.5


def test_cosine_and_angular_agree_and_bootstrap_brackets_the_score():
    first, second = parallel_languages(40)
    vectors = constructed(1.0, 0.05, seed=5)
    positions = triplets("form", first, second, AbxSettings(triplets=2))
    cosine = outcomes(vectors[0][0], vectors[1][0], positions, "form", "cosine")
    angular = outcomes(vectors[0][0], vectors[1][0], positions, "form", "angular")
    assert (cosine == angular).all()  # angular is a monotone function of cosine
    units = cosine.mean(axis=1)
    assert 0.5 < units.mean() < 1.0  # a weak language signal: some triplets right, some wrong
    low, high = bootstrap(units, AbxSettings(bootstrap=500), "k")
    assert low <= units.mean() <= high and low < high
    assert (low, high) == bootstrap(units, AbxSettings(bootstrap=500), "k")


def test_monolingual_sets_get_the_unpaired_form_task_only():
    first, _ = parallel_languages()
    mono = Language("mt", ["x", "y", "z"], None, "test")
    cells, skipped = plan_pairs([first, mono], None)
    assert [(task, a.name, b.name) for task, a, b in cells] == [("form-unpaired", "l1", "mt"), ("form-unpaired", "mt", "l1")]
    assert skipped == ["meaning not scored for 2 pair(s) with mt, which has no translations (l1:mt, mt:l1)"]
    with pytest.raises(AugkitError, match="unknown language"):
        plan_pairs([first, mono], [("l1", "zz")])


@pytest.mark.slow
def test_mean_pooling_ignores_padding_on_a_real_model():
    from finetune.abx import encode, load_encoder

    texts = ["il-kelb", "il-kelb rieqed fid-dar kbira tagħna llum filgħodu", "qattus"]
    model, tokenizer, _ = load_encoder("tiny-bert", texts * 5, seed=0)
    for pooling in ("mean", "first", "last"):
        settings = AbxSettings(pooling=pooling, batch_size=8)
        together = encode(model, tokenizer, texts, settings)
        alone = np.concatenate([encode(model, tokenizer, [text], settings) for text in texts], axis=1)
        assert together.shape == (3, 3, 64)  # embeddings + 2 layers, 3 sentences, hidden 64
        np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-5)


@pytest.mark.shared_data
@pytest.mark.slow
def test_abx_command_on_pud_and_mudt(shared_data, tmp_path, capsys):
    arguments = ["abx", "--model", "tiny-bert", "--parallel", f"ar={shared_data}/arabic/ar_pud-ud-test.conllu",
                 "--parallel", f"en={shared_data}/english/en_pud-ud-test.conllu",
                 "--monolingual", f"mt={shared_data}/maltese/mt_mudt-ud-test.conllu", "--derive", "ar+chartx",
                 "--max-sentences", "24", "--triplets", "2", "--bootstrap", "200", "--target", "mt", "--threads", "1"]
    assert main([*arguments, "--output", str(tmp_path / "a")]) == 0
    printed = capsys.readouterr().out
    assert "form: peaks at layer" in printed and "meaning: peaks at layer" in printed
    assert "form against mt at the last layer" in printed
    with open(tmp_path / "a" / "abx.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["layer", "task", "L1", "L2", "score", "ci_low", "ci_high", "n"]
    cells = {(row["task"], row["L1"], row["L2"]) for row in rows}
    assert ("form", "ar", "ar+chartx") in cells and ("meaning", "en", "ar") in cells
    assert ("form-unpaired", "mt", "ar+chartx") in cells and not any(t == "meaning" and "mt" in (a, b) for t, a, b in cells)
    assert {row["layer"] for row in rows} == {"0", "1", "2"}
    assert all(row["n"] == "48" for row in rows)  # 24 A sentences x 2 triplets
    assert all(float(row["ci_low"]) <= float(row["score"]) <= float(row["ci_high"]) for row in rows)
    document = json.loads((tmp_path / "a" / "abx.json").read_text())
    assert document["signature"].startswith("abx|model:tiny-bert@") and "|pool:mean|dist:cosine|seed:0|n:24|" in document["signature"]
    assert document["languages"]["ar+chartx"]["origin"].startswith("ar with scheme:chartx")
    assert (tmp_path / "a" / "abx.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The same seed gives the same bytes; a run computes each sentence once, whatever the pairs.
    assert main([*arguments, "--output", str(tmp_path / "b")]) == 0
    assert (tmp_path / "a" / "abx.csv").read_bytes() == (tmp_path / "b" / "abx.csv").read_bytes()
    assert main([*arguments, "--seed", "1", "--output", str(tmp_path / "c")]) == 0
    assert (tmp_path / "a" / "abx.csv").read_bytes() != (tmp_path / "c" / "abx.csv").read_bytes()


@pytest.mark.slow
def test_abx_runs_a_decoder_with_last_token_pooling(tmp_path, capsys):
    source = tmp_path / "pairs.jsonl"
    lines = [{"id": i, "text": f"il-kelb numru {i} rieqed"} for i in range(10)]
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps({"id": i, "text": f"the dog number {i} sleeps"}) + "\n" for i in range(10)))
    assert main(["abx", "--model", "tiny-qwen2", "--parallel", f"mt={source}", "--parallel", f"en={other}",
                 "--pooling", "last", "--distance", "angular", "--bootstrap", "50", "--output", str(tmp_path / "o")]) == 0
    assert "pool:last|dist:angular" in capsys.readouterr().out


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    one = tmp_path / "one.txt"
    one.write_text("a\nb\nc\n")
    assert main(["abx", "--model", "tiny-bert", "--parallel", f"x={one}", "--derive", "y+chartx",
                 "--output", str(tmp_path / "o")]) == 2
    assert "derived language 'y+chartx'" in capsys.readouterr().err
    assert main(["abx", "--model", "tiny-bert", "--parallel", f"x={tmp_path / 'missing.txt'}",
                 "--output", str(tmp_path / "o")]) == 2
    with pytest.raises(AugkitError, match="LANG=PATH"):
        parse_assignments(["x"], "--parallel")
    with pytest.raises(AugkitError, match="share 0 sentence ids"):
        other = tmp_path / "other.jsonl"
        other.write_text('{"id": "q", "text": "z"}\n')
        load_languages({"x": str(one), "y": str(other)}, {}, [], AbxSettings())


@pytest.mark.slow
def test_a_checkpoint_without_its_base_model_weights_is_refused(tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    from finetune.models import load_model, save_model

    model, tokenizer = load_model("tiny-bert", "masked-lm", texts=["il-kelb rieqed", "the dog sleeps"] * 5, seed=0)
    folder = save_model(model, tokenizer, tmp_path / "model")
    weights = load_file(folder / "model.safetensors")
    save_file({key.replace("bert.encoder.", "other.encoder."): value for key, value in weights.items()},
              folder / "model.safetensors")
    data = tmp_path / "x.txt"
    data.write_text("il-kelb\nrieqed\nhawn\n")
    assert main(["abx", "--model", str(folder), "--parallel", f"a={data}", "--parallel", f"b={data}",
                 "--output", str(tmp_path / "o")]) == 2
    assert "lacks" in capsys.readouterr().err
