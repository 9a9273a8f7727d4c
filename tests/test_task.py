"""finetune.task / `augkit train-task`: alignment, mixing, cascades, metrics, CRF, CLI."""

from __future__ import annotations

import json
import random

import pytest

from augment.errors import AugkitError, InputError
from finetune.task import (
    IGNORE_INDEX,
    LabelledText,
    TaggedSentence,
    TaskSettings,
    classification_metrics,
    encode_tagged,
    label_scheme,
    load_examples,
    mix_examples,
    tagging_metrics,
    train_task,
    unified_labels,
    weights_fingerprint,
)

# Each word always carries the same tag, so a correctly aligned tagger learns it quickly; the long
# words are split into several subwords by a small vocabulary, so misalignment would show.
LEXICON = {
    "il-": "DET", "raġel": "NOUN", "mara": "NOUN", "kiteb": "VERB", "qara": "VERB", "ittra": "NOUN",
    "ktieb": "NOUN", "sabiħ": "ADJ", "ġdida": "ADJ", "u": "CCONJ", "fuq": "ADP", "ħafna": "ADV",
    "iddikjaratilhomx": "VERB", "negozjanti": "NOUN", "Enemalta": "PROPN", ".": "PUNCT",
}


def _sentences(count: int, seed: int, lexicon=LEXICON) -> list[dict]:
    rng = random.Random(seed)
    words = sorted(lexicon)
    records = []
    for _ in range(count):
        tokens = [rng.choice(words) for _ in range(rng.randint(3, 9))]
        records.append({"tokens": tokens, "upos": [lexicon[word] for word in tokens]})
    return records


def _write_jsonl(path, records) -> str:
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")
    return str(path)


def _tokenizer(vocab_size: int = 60):
    from finetune.models import train_tiny_tokenizer

    corpus = [" ".join(record["tokens"]) for record in _sentences(200, 0)]
    return train_tiny_tokenizer("tiny-bert", corpus, vocab_size=vocab_size)


# --------------------------------------------------------------------------------------- alignment


def test_first_subword_carries_the_label_and_the_rest_are_masked():
    tokenizer = _tokenizer()
    sentence = TaggedSentence(("il-", "negozjanti", "iddikjaratilhomx", "."), ("DET", "NOUN", "VERB", "PUNCT"))
    label_to_id = {"DET": 0, "NOUN": 1, "VERB": 2, "PUNCT": 3}
    encoded = encode_tagged(tokenizer, [sentence], label_to_id, max_length=64)
    (ids,), (labels,), (positions,) = encoded.input_ids, encoded.labels, encoded.word_positions
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert len(tokens) > len(sentence.words) + 2, "the small vocabulary must split some words"
    labelled = [i for i, label in enumerate(labels) if label != IGNORE_INDEX]
    assert labelled == positions
    assert [labels[i] for i in labelled] == [label_to_id[tag] for tag in sentence.tags]
    assert not any(tokens[i].startswith("##") for i in labelled)  # each is the first piece of its word
    assert tokens[0] == "[CLS]" and labels[0] == IGNORE_INDEX and labels[-1] == IGNORE_INDEX
    # The pieces between two labelled positions spell the word they belong to.
    for word, start, end in zip(sentence.words, labelled, [*labelled[1:], len(tokens) - 1], strict=True):
        assert "".join(piece.removeprefix("##") for piece in tokens[start:end]) == word


def test_long_sentences_are_split_into_chunks_without_losing_a_word():
    tokenizer = _tokenizer()
    record = _sentences(1, 3)[0]
    words = tuple(record["tokens"] * 6)
    sentence = TaggedSentence(words, tuple(LEXICON[word] for word in words))
    labels = sorted(set(LEXICON.values()))
    encoded = encode_tagged(tokenizer, [sentence], {tag: i for i, tag in enumerate(labels)}, max_length=16)
    assert len(encoded.chunks) > 1
    assert all(len(row) <= 16 for row in encoded.input_ids)
    recovered = []
    for row_labels, (sentence_index, first_word) in zip(encoded.labels, encoded.chunks, strict=True):
        assert sentence_index == 0 and first_word == len(recovered)
        recovered += [labels[label] for label in row_labels if label != IGNORE_INDEX]
    assert recovered == list(sentence.tags)


@pytest.mark.slow
def test_tagging_end_to_end_learns_aligned_labels(tmp_path):
    train = _write_jsonl(tmp_path / "train.jsonl", _sentences(120, 1))
    dev = _write_jsonl(tmp_path / "dev.jsonl", _sentences(30, 2))
    settings = TaskSettings(epochs=8, learning_rate=3e-3, batch_size=8, warmup_ratio=0.0, threads=1)
    report = train_task("tagging", "tiny-bert", [train], dev, tmp_path / "run", seed=0, settings=settings,
                        tiny={"vocab_size": 60})
    assert report["label_scheme"] == "tags" and report["primary_metric"] == "accuracy"
    # A majority-tag guess scores ~0.4 here; only aligned labels let the tagger learn the lexicon.
    assert report["eval_metrics"]["accuracy"] > 0.85
    predictions = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert len(predictions) == 30
    assert all(len(p["predicted"]) == len(p["tokens"]) == len(p["gold"]) for p in predictions)
    assert (tmp_path / "run" / "model" / "config.json").is_file()
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["eval_metrics"] == report["eval_metrics"]


@pytest.mark.slow
def test_same_checkpoint_and_seed_give_the_same_model(tmp_path):
    # Starts from a saved checkpoint: training a tiny WordPiece vocabulary is itself not reproducible
    # (huggingface/tokenizers#1794), which is outside what this recipe controls.
    train = _write_jsonl(tmp_path / "train.jsonl", _sentences(20, 1))
    settings = TaskSettings(epochs=1, learning_rate=1e-3, threads=1)
    train_task("tagging", "tiny-bert", [train], train, tmp_path / "base", seed=5, settings=settings)
    base = tmp_path / "base" / "model"
    first = train_task("tagging", str(base), [train], train, tmp_path / "a", seed=5, settings=settings)
    second = train_task("tagging", str(base), [train], train, tmp_path / "b", seed=5, settings=settings)
    other = train_task("tagging", str(base), [train], train, tmp_path / "c", seed=6, settings=settings)
    assert first["head"] == "carried over"
    assert first["stages"][0]["weights_sha256_start"] == other["stages"][0]["weights_sha256_start"]
    assert first["stages"][0]["weights_sha256_end"] == second["stages"][0]["weights_sha256_end"]
    assert first["stages"][0]["weights_sha256_end"] != other["stages"][0]["weights_sha256_end"]
    assert (tmp_path / "a" / "predictions.jsonl").read_bytes() == (tmp_path / "b" / "predictions.jsonl").read_bytes()


# ------------------------------------------------------------------------------------------ cascade


@pytest.mark.slow
def test_cascade_stage_starts_from_the_previous_stage_weights(tmp_path):
    from transformers import AutoModelForTokenClassification

    arabic_like = {word.upper(): tag for word, tag in LEXICON.items()}
    stage_one = _write_jsonl(tmp_path / "one.jsonl", _sentences(20, 4, arabic_like))
    stage_two = _write_jsonl(tmp_path / "two.jsonl", _sentences(20, 5))
    dev = _write_jsonl(tmp_path / "dev.jsonl", _sentences(10, 6))
    settings = TaskSettings(epochs=[1, 2], learning_rate=1e-3, threads=1)
    report = train_task("tagging", "tiny-bert", [stage_one, stage_two], dev, tmp_path / "run", cascade=True,
                        seed=0, settings=settings)
    first, second = report["stages"]
    assert report["mode"] == "cascade" and first["examples"] == second["examples"] == 20
    assert (first["epochs_run"], second["epochs_run"]) == (1, 2)
    assert first["weights_sha256_end"] != first["weights_sha256_start"]  # stage 1 trained
    assert second["weights_sha256_start"] == first["weights_sha256_end"]  # stage 2 began where 1 ended
    assert second["weights_sha256_end"] != second["weights_sha256_start"]
    saved = AutoModelForTokenClassification.from_pretrained(tmp_path / "run" / "model")
    assert weights_fingerprint(saved) == second["weights_sha256_end"]
    assert "eval" in first and "eval" in second  # every stage is scored on the eval set


def test_cascade_needs_two_stages_and_excludes_mix(tmp_path):
    data = _write_jsonl(tmp_path / "d.jsonl", _sentences(3, 0))
    with pytest.raises(AugkitError, match="at least two"):
        train_task("tagging", "tiny-bert", [data], data, tmp_path / "run", cascade=True)
    with pytest.raises(AugkitError, match="cannot be combined"):
        train_task("tagging", "tiny-bert", [data, data], data, tmp_path / "run", cascade=True, mix=[1, 1])


# ---------------------------------------------------------------------------------------------- mix


def test_mix_draws_the_requested_shares_and_upsamples_whole_passes():
    maltese = [LabelledText(f"mt{i}", "a") for i in range(10)]
    arabic = [LabelledText(f"ar{i}", "b") for i in range(100)]
    mixed, counts = mix_examples([maltese, arabic], [0.5, 0.5], seed=3)
    assert counts == [55, 55] and len(mixed) == 110
    drawn = [e.text for e in mixed if e.text.startswith("mt")]
    # 55 = 5 full passes over the 10 Maltese examples + 5 more: no example drawn 7 times or 4 times.
    assert sorted(set(drawn.count(f"mt{i}") for i in range(10))) == [5, 6]
    assert len({e.text for e in mixed if e.text.startswith("ar")}) == 55  # downsampled without repeats
    again, _ = mix_examples([maltese, arabic], [0.5, 0.5], seed=3)
    assert again == mixed
    assert mix_examples([maltese, arabic], [0.5, 0.5], seed=4)[0] != mixed
    _, counts = mix_examples([maltese, arabic], [1, 2], seed=0, total=10)
    assert counts == [3, 7]


def test_mix_rejects_bad_proportions():
    data = [LabelledText("x", "a")]
    with pytest.raises(AugkitError, match="2 training sets"):
        mix_examples([data, data], [1.0], seed=0)
    with pytest.raises(AugkitError, match="non-negative"):
        mix_examples([data, data], [1.0, -1.0], seed=0)


@pytest.mark.slow
def test_mix_run_records_what_was_drawn(tmp_path):
    one = _write_jsonl(tmp_path / "one.jsonl", _sentences(10, 1))
    two = _write_jsonl(tmp_path / "two.jsonl", _sentences(40, 2))
    report = train_task("tagging", "tiny-bert", [one, two], one, tmp_path / "run", mix=[3, 1], mix_size=20,
                        settings=TaskSettings(epochs=1, threads=1))
    assert report["mix"] == {"proportions": [3, 1], "examples_drawn": [15, 5]}
    assert report["stages"][0]["examples"] == 20


# ------------------------------------------------------------------------------------------ metrics


def test_classification_metrics_match_hand_computed_values():
    gold = ["pos", "pos", "neg", "neg", "neu"]
    predicted = ["pos", "neg", "neg", "neg", "pos"]
    metrics = classification_metrics(gold, predicted)
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    # F1: pos (tp1 fp1 fn1) = 0.5; neg (tp2 fp1 fn0) = 0.8; neu (tp0 fn1) = 0; macro = 1.3 / 3.
    assert metrics["macro_f1"] == pytest.approx(1.3 / 3)


def test_entity_f1_with_seqeval_on_hand_made_bio():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O"]]
    metrics = tagging_metrics(gold, predicted, "bio")
    # Gold entities: PER, LOC, ORG; predicted: PER, ORG(wrong), ORG -> 2 correct of 3 and 3.
    assert metrics["entity_precision"] == pytest.approx(2 / 3)
    assert metrics["entity_recall"] == pytest.approx(2 / 3)
    assert metrics["entity_f1"] == pytest.approx(2 / 3)
    assert metrics["accuracy"] == pytest.approx(5 / 6)


def test_a_word_without_prediction_counts_as_an_error():
    metrics = tagging_metrics([["NOUN", "VERB"]], [["NOUN", None]], "tags")
    assert metrics["accuracy"] == 0.5
    assert metrics["macro_f1"] == pytest.approx((1.0 + 0.0) / 2)


def test_label_scheme_and_unified_labels():
    assert label_scheme({"O", "B-PER", "I-PER"}) == "bio"
    assert label_scheme({"NOUN", "VERB", "DET"}) == "tags"
    assert label_scheme({"O"}) == "tags"
    stages = [[TaggedSentence(("a",), ("X",))], [TaggedSentence(("b", "c"), ("Y", "X"))]]
    assert unified_labels(stages) == ["X", "Y"]


# ------------------------------------------------------------------------------------ data formats


def test_bad_jsonl_record_names_file_and_record(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"tokens": ["a", "b"], "upos": ["X", "Y"]}\n{"tokens": ["a"], "upos": ["X", "Y"]}\n')
    with pytest.raises(InputError, match=r"bad\.jsonl.*record 2.*same length"):
        load_examples(path, "tagging")


def test_conllu_skips_multiword_ranges_and_names_a_missing_tag(tmp_path):
    good = tmp_path / "good.conllu"
    good.write_text("# text = del mar\n1-2\tdel\t_\t_\t_\t_\t_\t_\t_\t_\n1\tde\t_\tADP\t_\t_\t0\troot\t_\t_\n"
                    "2\tel\t_\tDET\t_\t_\t1\tdet\t_\t_\n3\tmar\t_\tNOUN\t_\t_\t1\tobj\t_\t_\n\n")
    assert load_examples(good, "tagging") == [TaggedSentence(("de", "el", "mar"), ("ADP", "DET", "NOUN"))]
    bad = tmp_path / "bad.conllu"
    bad.write_text("1\tx\t_\tNOUN\t_\t_\t0\troot\t_\t_\n\n1\ty\t_\t_\t_\t_\t0\troot\t_\t_\n")
    with pytest.raises(InputError, match=r"bad\.conllu:3.*'y' has no UPOS"):
        load_examples(bad, "tagging")


def test_hf_dataset_with_class_label_ids(tmp_path):
    import datasets

    features = datasets.Features({"text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["neg", "pos"])})
    datasets.Dataset.from_dict({"text": ["bad", "good"], "label": [0, 1]}, features=features).save_to_disk(tmp_path / "ds")
    assert load_examples(tmp_path / "ds", "classification") == [LabelledText("bad", "neg"), LabelledText("good", "pos")]


# -------------------------------------------------------------------------------------- CRF and CLI


@pytest.mark.slow
def test_crf_learns_the_lexicon_and_refuses_a_cascade(tmp_path):
    train = _write_jsonl(tmp_path / "train.jsonl", _sentences(60, 1))
    dev = _write_jsonl(tmp_path / "dev.jsonl", _sentences(20, 2))
    report = train_task("tagging", "crf", [train], dev, tmp_path / "run")
    assert report["eval_metrics"]["accuracy"] > 0.95
    assert (tmp_path / "run" / "model" / "tagger.crfsuite").is_file()
    with pytest.raises(AugkitError, match="warm start"):
        train_task("tagging", "crf", [train, dev], dev, tmp_path / "run2", cascade=True)


@pytest.mark.slow
def test_cli_classification_in_process(tmp_path, capsys):
    from augment.cli import main

    rng = random.Random(0)
    rows = [{"text": " ".join(rng.choice(words) for _ in range(4)), "label": label}
            for label, words in (("pos", ["tajjeb", "sabiħ", "grazzi"]), ("neg", ["ħażin", "ikrah", "le"]))
            for _ in range(16)]
    train = _write_jsonl(tmp_path / "train.jsonl", rows)
    code = main(["train-task", "--task", "classification", "--model", "tiny-bert", "--train", train,
                 "--eval", train, "--test", train, "--epochs", "5", "--lr", "3e-3", "--batch-size", "8",
                 "--select-best", "--threads", "1", "--output", str(tmp_path / "run")])
    assert code == 0
    assert "macro_f1" in capsys.readouterr().out
    report = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert report["test_metrics"]["accuracy"] > 0.9  # the two classes use disjoint words
    assert report["stages"][0]["best_epoch"] is not None

    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    code = main(["train-task", "--task", "classification", "--model", "tiny-bert", "--train", str(bad),
                 "--eval", train, "--output", str(tmp_path / "run2")])
    assert code == 2
    assert "bad.jsonl:1: invalid JSON" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.shared_data
def test_real_mudt_crf_tagger(shared_data, tmp_path):
    maltese = shared_data / "maltese"
    train = load_examples(maltese / "mt_mudt-ud-train.conllu", "tagging")
    assert len(train) == 1123
    small = _write_jsonl(tmp_path / "mt100.jsonl", [{"tokens": list(s.words), "upos": list(s.tags)} for s in train[:100]])
    report = train_task("tagging", "crf", [small], maltese / "mt_mudt-ud-dev.conllu", tmp_path / "run")
    assert report["eval_metrics"]["words"] == 10209
    # 100 sentences of MUDT give ~0.85 UPOS accuracy with this CRF; a tag-per-word baseline gets far less.
    assert report["eval_metrics"]["accuracy"] > 0.8


@pytest.mark.shared_data
def test_experiment_a_config_dry_run(shared_data, capsys, monkeypatch):
    import importlib.util
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("experiment_a", root / "bench" / "experiment_a.py")
    experiment = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "experiment_a", experiment)  # dataclasses look their module up there
    spec.loader.exec_module(experiment)
    config = root / "docs" / "experiments" / "expA" / "config.yaml"
    assert experiment.main(["--config", str(config), "--shared", str(shared_data), "--dry-run"]) == 0
    out = capsys.readouterr().out
    # 3 sizes x 3 seeds x (baseline + 7 schemes x 2 modes) networks; CRF: 3 x (1 + 3 x 7) + 7 zero-shot.
    assert out.strip().endswith("208 runs")
    assert "tiny-bert/n100/cascade-chartx/seed1 AR-none AR-chartx MT100 epochs [2, 2, 12]" in out
