"""Recipe mechanics on a tiny model: adapt (CPT -> SFT from one config), resume, early stopping, data inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import augment.cli  # noqa: E402
from augment.errors import AugkitError  # noqa: E402
from finetune import data, sft  # noqa: E402
from finetune.recipe import TrainConfig  # noqa: E402

pytestmark = pytest.mark.slow
SENTENCES = ["il-kelb jiekol il-ħobż.", "the cat sleeps in the garden.", "it-tifel jilgħab bil-ballun.",
             "a child plays with the ball.", "il-qattus jorqod fil-ġnien."]


def cli(*argv) -> int:
    return augment.cli.main([str(a) for a in argv])


@pytest.fixture(scope="module", autouse=True)
def setup():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    with open(root / "text.jsonl", "w", encoding="utf-8") as handle:
        for index in range(120):
            # Each text once: a text in two documents would join them for the held-out split.
            text = f"{SENTENCES[index % 5]} ({index})"
            handle.write(json.dumps({"doc": f"d{index % 12}", "text": text}, ensure_ascii=False) + "\n")
    with open(root / "chat.jsonl", "w", encoding="utf-8") as handle:
        for index in range(60):
            messages = [{"role": "system", "content": "Translate."},
                        {"role": "user", "content": f"{SENTENCES[index % 5]} ({index})"},
                        {"role": "assistant", "content": f"{SENTENCES[(index + 1) % 5]} ({index})"}]
            handle.write(json.dumps({"doc": f"c{index % 6}", "messages": messages}, ensure_ascii=False) + "\n")
    config = root / "adapt.yaml"
    config.write_text(
        "model: tiny-qwen2\ntiny: {vocab_size: 300}\nseed: 0\nbatch_size: 8\nheldout_fraction: 0.2\n"
        "cpt:\n  block_size: 32\n  max_steps: 6\n  eval_every: 3\n  learning_rate: 3e-3\n  gradient_checkpointing: true\n"
        "sft:\n  block_size: 96\n  max_steps: 6\n  eval_every: 3\n  packing: false\n", encoding="utf-8")
    return root


def test_adapt_runs_cpt_then_sft_from_one_config(files, tmp_path):
    out = tmp_path / "adapt"
    assert cli("adapt", "--config", files / "adapt.yaml", "--cpt-data", files / "text.jsonl",
               "--sft-data", files / "chat.jsonl", "--output", out) == 0
    cpt_report = json.loads((out / "cpt" / "report.json").read_text())
    sft_report = json.loads((out / "sft" / "report.json").read_text())
    assert cpt_report["config"]["learning_rate"] == pytest.approx(3e-3)  # "3e-3" in YAML is a number
    assert cpt_report["steps"] == 6 and sft_report["steps"] == 6
    assert sft_report["model"] == str(out / "cpt") and sft_report["config"]["packing"] is False
    # SFT kept the CPT tokenizer: same vocabulary, so the weights chain.
    assert (out / "sft" / "tokenizer.json").read_text() == (out / "cpt" / "tokenizer.json").read_text()


def test_lora_training_exports_a_merged_model_changed_only_where_adapted(files, tmp_path):
    from finetune import layers, models

    out = tmp_path / "lora"
    assert cli("cpt", "--model", "tiny-qwen2", "--tiny", "vocab_size=300", "--data", files / "text.jsonl",
               "--output", out, "--block-size", "32", "--max-steps", "4", "--eval-every", "4", "--lr", "1e-2",
               "--heldout-fraction", "0.2", "--lora", "--lora-r", "4", "--lora-targets", "q_proj,v_proj") == 0
    # The same seed and training texts rebuild the untrained model, to compare against.
    records = data.load_records(files / "text.jsonl")
    train, _ = data.split_heldout(records, 0.2, seed=0)
    initial, tok = models.load_model("tiny-qwen2", "causal-lm", texts=data.texts_of(train), tiny={"vocab_size": 300})
    models.save_model(initial, tok, tmp_path / "initial")
    changes, unmatched = layers.compare(tmp_path / "initial", out)
    assert not any(unmatched.values())
    assert {c.module for c in changes if c.diff_norm > 0} == {"attn_q", "attn_v"}
    assert all(c.name.endswith(".weight") for c in changes if c.diff_norm > 0)  # LoRA leaves biases alone


def test_resume_continues_from_the_last_checkpoint(files, tmp_path):
    out = tmp_path / "cpt"
    common = ["cpt", "--model", "tiny-qwen2", "--tiny", "vocab_size=300", "--data", files / "text.jsonl",
              "--output", out, "--block-size", "32", "--eval-every", "3", "--heldout-fraction", "0.2"]
    assert cli(*common, "--max-steps", "6") == 0
    assert (out / "checkpoints" / "checkpoint-6").is_dir()
    assert cli(*common, "--max-steps", "9", "--resume") == 0
    report = json.loads((out / "report.json").read_text())
    assert report["steps"] == 9
    assert [h["step"] for h in report["eval_history"]][-2:] == [6, 9]  # earlier evaluations came from the checkpoint


def test_early_stopping_stops_when_held_out_loss_stalls(files, tmp_path):
    out = tmp_path / "stalled"
    # A learning rate of 0 never improves the held-out loss. The first checkpointed evaluation (step 2) sets
    # the best loss, the next one (step 4) does not beat it: patience 1 stops there.
    assert cli("cpt", "--model", "tiny-qwen2", "--tiny", "vocab_size=300", "--data", files / "text.jsonl", "--output",
               out, "--block-size", "32", "--eval-every", "2", "--max-steps", "40", "--lr", "0",
               "--early-stopping", "1", "--heldout-fraction", "0.2") == 0
    assert json.loads((out / "report.json").read_text())["steps"] == 4


def test_sft_on_chat_messages_trains_only_the_last_answer(files):
    records = data.load_records(files / "chat.jsonl")
    conversations = data.conversations_of(records)
    assert [m["role"] for m in conversations[0]] == ["system", "user", "assistant"]
    from finetune.models import load_model

    _, tok = load_model("tiny-qwen2", "causal-lm", texts=SENTENCES * 4, tiny={"vocab_size": 300})
    example = sft.encode(tok, conversations[0])
    trained = [t for t, label in zip(example["input_ids"], example["labels"], strict=True) if label != -100]
    assert tok.decode(trained) == SENTENCES[1] + " (0)<|im_end|>\n"


def test_data_inputs_and_errors(tmp_path):
    import datasets

    (tmp_path / "plain.txt").write_text("one line\n\nanother line\n", encoding="utf-8")
    assert [r.record["text"] for r in data.load_records(tmp_path / "plain.txt")] == ["one line", "another line"]
    (tmp_path / "docs.txt").write_text("doc one, line 1\nline 2\n\n\ndoc two\n", encoding="utf-8")
    paragraphs = data.load_records(tmp_path / "docs.txt", txt_unit="paragraph")
    assert [(r.record["text"], r.line) for r in paragraphs] == [("doc one, line 1\nline 2", 1), ("doc two", 5)]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "train.jsonl").write_text('{"text": "a"}\n', encoding="utf-8")
    (corpus / "dev.jsonl").write_text('{"text": "b"}\n', encoding="utf-8")
    assert [r.record["text"] for r in data.load_records(f"{corpus}:dev")] == ["b"]
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["x", "y"]}),
                          "test": datasets.Dataset.from_dict({"text": ["z"]})}).save_to_disk(str(tmp_path / "hf"))
    assert [r.record["text"] for r in data.load_records(tmp_path / "hf")] == ["x", "y"]
    assert [r.record["text"] for r in data.load_records(tmp_path / "hf", split="test")] == ["z"]
    datasets.Dataset.from_dict({"prompt": ["p"], "response": ["r"]}).to_parquet(str(tmp_path / "pairs.parquet"))
    assert data.conversations_of(data.load_records(tmp_path / "pairs.parquet"))[0][1]["content"] == "r"
    (tmp_path / "broken.jsonl").write_text('{"text": "ok"}\n{"text": \n', encoding="utf-8")
    with pytest.raises(AugkitError, match=r"broken.jsonl:2: invalid JSON"):
        data.load_records(tmp_path / "broken.jsonl")
    with pytest.raises(AugkitError, match=r"plain.txt:1: record needs 'messages' or 'prompt' \+ 'response'"):
        data.conversations_of(data.load_records(tmp_path / "plain.txt"))
    (tmp_path / "bad.yaml").write_text("learnign_rate: 0.1\n", encoding="utf-8")
    with pytest.raises(AugkitError, match="unknown key.*learnign_rate"):
        TrainConfig.load(tmp_path / "bad.yaml", {"data": "x"})


def test_packing_is_dense_and_padding_is_masked():
    from finetune.models import load_model

    _, tok = load_model("tiny-qwen2", "causal-lm", texts=SENTENCES * 4, tiny={"vocab_size": 300})
    blocks, stats = data.pack_blocks(tok, SENTENCES * 40, 64)
    assert stats.non_padding_fraction >= 0.98
    assert all(len(b["input_ids"]) == 64 for b in blocks)
    last = blocks[-1]
    padded = last["attention_mask"].count(0)
    assert last["labels"][len(last["labels"]) - padded:] == [-100] * padded
    assert sum(b["attention_mask"].count(1) for b in blocks) == stats.tokens
    assert data.evenly(list(range(10)), 3) == [0, 3, 6] and data.evenly(blocks, None) is blocks


@pytest.mark.parametrize("config", sorted((Path(__file__).resolve().parents[1] / "finetune" / "configs").glob("*.yaml")),
                         ids=lambda path: path.name)
def test_shipped_configs_are_valid(config):
    for section in ("cpt", "sft"):
        loaded = TrainConfig.load(config, {"data": "placeholder.jsonl"}, section=section)
        assert loaded.learning_rate > 0 and loaded.max_steps != 0
        if loaded.lora is not None:
            from finetune.recipe import lora_settings

            assert lora_settings(loaded).r > 0


def test_train_mt_holds_out_pairs_and_stops_at_its_target(tmp_path, capsys):
    words = "zero one two three four five six seven eight nine".split()
    # Each digit pair twice, once in each direction: held-out pairs share no text with training pairs.
    rows = [row for a in range(10) for b in range(10) for row in (
        {"source": f"{a} {b}", "target": f"{words[a]} {words[b]}"},
        {"source": f"{words[a]} {words[b]}", "target": f"{a} {b}"})]
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    assert cli("train-mt", "-d", tmp_path / "pairs.jsonl", "-o", tmp_path / "mt", "--steps", "4", "--max-seconds", "0",
               "--heldout-fraction", "0.1", "--target-exact", "0", "--schedule", "linear") == 0
    training = json.loads((tmp_path / "mt" / "training.json").read_text())
    # A target of 0 is met at the first check, which comes at the last step when --steps is below check_every.
    assert (training["stopped"], training["steps"], training["heldout_pairs"]) == ("target", 4, 20)
    assert [step for step, _ in training["checks"]] == [4]
    assert "180 pairs, 4 steps (stopped: target), held-out exact" in capsys.readouterr().out
    assert cli("train-mt", "-d", tmp_path / "pairs.jsonl", "-o", tmp_path / "x", "--target-exact", "0.9") == 2
