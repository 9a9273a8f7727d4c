"""End to end on tiny models: cpt -> sft -> evaluate -> layers, tokenizer train/extend/report, via augment.cli.main."""

from __future__ import annotations

import json
import math
import random

import pytest

torch = pytest.importorskip("torch")

import augment.cli  # noqa: E402
from finetune import data, evaluate, layers, models, sft, tokenizer  # noqa: E402

pytestmark = pytest.mark.slow

SUBJECTS = ["il-kelb", "il-qattus", "it-tifel", "the dog", "the cat", "a child"]
VERBS = ["jiekol", "jorqod", "jilgħab", "eats", "sleeps", "plays"]
OBJECTS = ["il-ħobż", "fil-ġnien", "bil-ballun", "bread", "in the garden", "with the ball"]
WORDS = {"dog": "kelb", "cat": "qattus", "bread": "ħobż", "house": "dar", "water": "ilma", "child": "tifel"}


def cli(*argv: str) -> int:
    return augment.cli.main([str(a) for a in argv])


@pytest.fixture(scope="module", autouse=True)
def few_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # the machine is shared; tiny models gain nothing from more
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    rng = random.Random(0)
    # Every sentence once: a sentence repeated in two documents would join them for the held-out split.
    sentences = [f"{s} {v} {o}." for s in SUBJECTS for v in VERBS for o in OBJECTS]
    rng.shuffle(sentences)
    with open(root / "text.jsonl", "w", encoding="utf-8") as handle:
        for index, sentence in enumerate(sentences):
            handle.write(json.dumps({"doc": f"d{index // 8}", "text": sentence, "lang": "mt"}, ensure_ascii=False) + "\n")
    with open(root / "pairs.jsonl", "w", encoding="utf-8") as handle:  # no doc: held out by shared text
        for _ in range(160):
            a, b = rng.sample(sorted(WORDS), 2)
            handle.write(json.dumps({"source": f"the {a} and the {b}", "target": f"il-{WORDS[a]} u l-{WORDS[b]}"},
                                    ensure_ascii=False) + "\n")
    syllables = ["བཀྲ", "ཤིས", "བདེ", "ལེགས", "བོད", "ཡིག", "སློབ", "གྲྭ", "ཆོས", "རྒྱལ"]
    with open(root / "bo.jsonl", "w", encoding="utf-8") as handle:
        for index in range(120):
            line = "་".join(rng.choice(syllables) for _ in range(rng.randint(4, 9))) + "།"
            handle.write(json.dumps({"doc": f"b{index}", "text": line, "lang": "bo"}, ensure_ascii=False) + "\n")
    return root


@pytest.fixture(scope="module")
def cpt_model(corpus, tmp_path_factory):
    output = tmp_path_factory.mktemp("cpt")
    code = cli("cpt", "--model", "tiny-qwen2", "--data", corpus / "text.jsonl", "--output", output,
               "--tiny", "vocab_size=400", "--block-size", "32", "--batch-size", "8", "--max-steps", "30",
               "--eval-every", "15", "--lr", "3e-3", "--heldout-fraction", "0.1", "--seed", "0")
    assert code == 0
    return output


@pytest.fixture(scope="module")
def sft_model(corpus, cpt_model, tmp_path_factory):
    output = tmp_path_factory.mktemp("sft")
    code = cli("sft", "--model", cpt_model, "--data", corpus / "pairs.jsonl", "--output", output,
               "--prompt-field", "source", "--response-field", "target", "--prompt-template",
               "Maltese: {prompt}", "--block-size", "64", "--batch-size", "8", "--max-steps", "30",
               "--eval-every", "15", "--lr", "3e-3", "--heldout-fraction", "0.1")
    assert code == 0
    return output


def test_cpt_lowers_held_out_loss_with_dense_packing(cpt_model):
    report = json.loads((cpt_model / "report.json").read_text())
    assert report["eval_loss_after"] < report["eval_loss_before"] - 0.5
    assert report["packing"]["non_padding_fraction"] >= 0.98
    assert (cpt_model / "model.safetensors").is_file() and (cpt_model / "chat_template.jinja").is_file()
    model, tok = models.load_model(cpt_model, "causal-lm")
    assert type(model).__name__ == "Qwen2ForCausalLM" and tok.chat_template


def test_sft_trains_on_responses(sft_model):
    report = json.loads((sft_model / "report.json").read_text())
    assert report["template"] == "chat_template"
    assert report["eval_loss_after"] < report["eval_loss_before"]
    assert report["train_examples"] + report["eval_examples"] + report["dropped"] == 160


def test_sft_masks_prompt_tokens(cpt_model):
    model, tok = models.load_model(cpt_model, "causal-lm")
    messages = [{"role": "user", "content": "the dog and the cat"}, {"role": "assistant", "content": "il-kelb"}]
    example = sft.encode(tok, messages)
    prompt, completion = sft.render(tok, messages)
    prompt_length = len(tok(prompt, add_special_tokens=False)["input_ids"])
    assert example["labels"][:prompt_length] == [data.IGNORE_INDEX] * prompt_length
    assert all(label != data.IGNORE_INDEX for label in example["labels"][prompt_length:])
    trained = [t for t, label in zip(example["input_ids"], example["labels"], strict=True) if label != data.IGNORE_INDEX]
    assert tok.decode(trained) == "il-kelb<|im_end|>\n" == completion
    # The collators keep the mask: a prompt token never becomes a target.
    for packing in (True, False):
        batch = sft.collator(tok, packing, model)([example, example])
        assert (batch["labels"] != data.IGNORE_INDEX).sum().item() == 2 * len(trained)


def test_default_template_without_chat_template(cpt_model):
    _, tok = models.load_model(cpt_model, "causal-lm")
    tok.chat_template = None
    prompt, completion = sft.render(tok, [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}])
    assert prompt == "<|user|>\nhi\n<|assistant|>\n" and completion == "ok" + tok.eos_token


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_sft_batches_do_not_leak_across_examples_in_the_saved_model(sft_model, attention):
    model, tok = models.load_model(sft_model, "causal-lm")  # as saved by `augkit sft`: ready to generate
    assert model.config.use_cache  # with the cache on, position ids alone no longer separate examples
    model.set_attn_implementation(attention)
    model.eval()
    examples = [sft.encode(tok, [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}])
                for prompt, answer in (("the cat", "il-qattus"), ("the dog and the child", "il-kelb u t-tifel"),
                                       ("bread", "ħobż"))]
    batch = sft.collator(tok, True, model)(examples)
    assert batch["input_ids"].shape == (1, sum(len(e["input_ids"]) for e in examples))
    inputs = {key: value for key, value in batch.items() if key != "labels"}
    with torch.no_grad():
        packed = model(**inputs).logits[0]
        leaking = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits[0]
        start = 0
        for example in examples:
            alone = model(input_ids=torch.tensor([example["input_ids"]])).logits[0]
            end = start + len(example["input_ids"])
            # float32 on any CPU: a different summation order moves logits by ~1e-6, a leak by ~0.1-10.
            torch.testing.assert_close(packed[start:end], alone, rtol=1e-4, atol=1e-4)
            start = end
        assert (leaking[start - len(alone):] - alone).abs().max() > 1e-2  # the check can fail: no mask leaks
        assert model(**inputs, labels=batch["labels"]).loss.item() == pytest.approx(
            _mean_response_loss(model, examples), rel=1e-4)


def _mean_response_loss(model, examples) -> float:
    """Cross-entropy over every response token of the examples, each run alone."""
    total, count = 0.0, 0
    for example in examples:
        logits = model(input_ids=torch.tensor([example["input_ids"]])).logits[0, :-1]
        targets = torch.tensor(example["labels"][1:])
        kept = targets != data.IGNORE_INDEX
        total += torch.nn.functional.cross_entropy(logits[kept], targets[kept], reduction="sum").item()
        count += int(kept.sum())
    return total / count


def test_perplexity_and_bits_per_character_agree(cpt_model):
    model, tok = models.load_model(cpt_model, "causal-lm")
    text = "il-kelb jiekol il-ħobż fil-ġnien."
    scores = evaluate.language_model_scores(model, tok, [text], window=64)
    ids = [tok.eos_token_id] + tok(text, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        loss = model(input_ids=torch.tensor([ids]), labels=torch.tensor([ids])).loss.item()
    assert scores["ppl"] == pytest.approx(math.exp(loss), rel=1e-4)
    assert scores["bpc"] == pytest.approx(loss * (len(ids) - 1) / math.log(2) / len(text), rel=1e-4)
    assert scores["bpb"] < scores["bpc"]  # ħ and ġ take two bytes
    long_text = [" ".join([text] * 12)]
    narrow = evaluate.language_model_scores(model, tok, long_text, window=32, stride=16)
    wide = evaluate.language_model_scores(model, tok, long_text, window=512)
    assert narrow["tokens"] == wide["tokens"]
    assert narrow["ppl"] == pytest.approx(wide["ppl"], rel=0.15)


def test_tibetan_bleu_uses_syllables():
    assert evaluate.tibetan_syllables("བཀྲ་ཤིས་བདེ་ལེགས། ང་") == "བཀྲ ཤིས བདེ ལེགས ། ང"
    assert evaluate.bleu_tokenizer("bo") == ("none", True)
    assert evaluate.bleu_tokenizer("zh") == ("zh", False)
    assert evaluate.bleu_tokenizer("mt") == ("13a", False)
    scores = evaluate.translation_scores(["བཀྲ་ཤིས་བདེ་ལེགས།"], ["བཀྲ་ཤིས་བདེ་ལེགས།"], ["bleu", "chrf++"], "bo")
    assert scores["bleu"]["score"] == pytest.approx(100.0)
    assert scores["bleu"]["signature"].endswith("tok:none|smooth:exp|version:" + __import__("sacrebleu").__version__
                                                + "|pretok:tibetan-syllables")


def test_evaluate_side_by_side_with_both_backends(corpus, cpt_model, sft_model, tmp_path):
    evaluated = [json.loads(line) for line in (corpus / "pairs.jsonl").read_text(encoding="utf-8").splitlines()][:12]
    first, other = evaluated[0], next(r for r in evaluated if r["source"] != evaluated[0]["source"])
    # Training data holding the first pair in the other direction (and upper case) and the other's reference.
    (tmp_path / "train.jsonl").write_text(
        json.dumps({"prompt": first["target"].upper(), "response": first["source"]}) + "\n"
        + json.dumps({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": other["target"]}]})
        + "\n", encoding="utf-8")
    outputs = {}
    for backend in ("hf", "ct2"):
        out = tmp_path / backend
        code = cli("evaluate", "--model", sft_model, "--base", cpt_model, "--data", corpus / "pairs.jsonl",
                   "--metrics", "ppl,bpc,bleu,chrf,chrf++", "--text-field", "target", "--prompt-template",
                   "Maltese: {prompt}", "--target-lang", "mt", "--max-new-tokens", "12", "--limit", "12",
                   "--backend", backend, "--output", out, *(["--train-data", tmp_path / "train.jsonl"]
                                                           if backend == "hf" else []))
        assert code == 0
        outputs[backend] = out
    report = json.loads((outputs["hf"] / "evaluation.json").read_text())
    overlap = report["training_overlap"]
    references = sum(r["target"] in (first["target"], other["target"]) for r in evaluated)
    assert overlap["references"] == overlap["texts"] == {"in_train": references, "of": 12}
    assert overlap["sources"] == {"in_train": sum(r["source"] == first["source"] for r in evaluated), "of": 12}
    assert f"{references} of 12 references" in (outputs["hf"] / "evaluation.md").read_text()
    assert "training_overlap" not in json.loads((outputs["ct2"] / "evaluation.json").read_text())
    base, adapted = report["models"]["base"], report["models"]["adapted"]
    # SFT on the references' language lowers their bits per character; 30 steps are too few to promise BLEU.
    assert adapted["language_model"]["bpc"] < base["language_model"]["bpc"]
    assert 0 <= adapted["translation"]["chrf"]["score"] <= 100
    assert "tok:13a" in adapted["translation"]["bleu"]["signature"]
    table = (outputs["hf"] / "evaluation.md").read_text()
    assert "| metric | base | adapted | change |" in table and "bits per character" in table
    hf = (outputs["hf"] / "hypotheses_adapted.jsonl").read_text()
    assert hf == (outputs["ct2"] / "hypotheses_adapted.jsonl").read_text()  # same greedy decoding


def test_layers_finds_a_planted_change(cpt_model, tmp_path):
    from safetensors.torch import load_file, save_file

    planted = tmp_path / "planted"
    planted.mkdir()
    for file in cpt_model.iterdir():
        if file.is_file():
            (planted / file.name).write_bytes(file.read_bytes())
    weights = load_file(str(planted / "model.safetensors"))
    target = "model.layers.1.mlp.down_proj.weight"
    weights[target] = weights[target] * 1.5
    save_file(weights, str(planted / "model.safetensors"), metadata={"format": "pt"})
    out = tmp_path / "layers"
    assert cli("layers", "--base", cpt_model, "--adapted", planted, "--output", out) == 0
    rows = list(__import__("csv").DictReader(open(out / "layers.csv", encoding="utf-8")))
    changed = [row for row in rows if float(row["diff_norm"]) > 0]
    assert [row["tensor"] for row in changed] == [target]
    assert float(changed[0]["relative_change"]) == pytest.approx(0.5, rel=1e-5)
    assert float(changed[0]["share"]) == pytest.approx(1.0)
    assert changed[0]["module"] == "mlp_down" and changed[0]["depth"] == "1"
    summary = (out / "layers_summary.txt").read_text()
    assert "mlp_down 100.0%" in summary and "mlp_down at depth 1" in summary
    assert (out / "layers_heatmap.png").stat().st_size > 0 and (out / "layers_depth.png").stat().st_size > 0


def test_layers_merges_lora_adapters(cpt_model, tmp_path):
    model, tok = models.load_model(cpt_model, "causal-lm",
                                   lora=models.LoraSettings(r=2, target_modules=("q_proj",)))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.1)
    adapter = tmp_path / "adapter"
    model.save_pretrained(adapter)
    merged = models.save_model(model, tok, tmp_path / "merged")
    from_adapter, _ = layers.compare(cpt_model, adapter)
    from_merged, _ = layers.compare(cpt_model, merged)
    by_name = {c.name: c for c in from_merged}
    for change in from_adapter:
        assert change.diff_norm == pytest.approx(by_name[change.name].diff_norm, rel=1e-3, abs=1e-6)
    assert {c.module for c in from_adapter if c.diff_norm > 0} == {"attn_q"}


def test_tokenizer_extend_resizes_and_initialises_from_the_mean(cpt_model, tmp_path):
    model, tok = models.load_model(cpt_model, "causal-lm")
    old_embeddings = model.get_input_embeddings().weight.detach().clone()
    old_head = model.get_output_embeddings().weight.detach().clone()
    texts = ["il-ġnien il-kbir u l-ġnien iż-żgħir", "ġnien ġdid fil-belt il-kbira"] * 20
    pieces = tokenizer.new_pieces(tok, texts, 10)
    assert pieces and all(p not in tok.get_vocab() for p in pieces)
    spellings = {p: tok(p, add_special_tokens=False)["input_ids"] for p in pieces}
    result = tokenizer.extend(model, tok, pieces)
    assert result["new_vocab"] == result["old_vocab"] + len(pieces) == len(tok)
    assert model.get_input_embeddings().weight.shape[0] == len(tok)
    assert model.get_output_embeddings().weight.shape[0] == len(tok)
    for piece, old_ids in spellings.items():
        new_id = tok.convert_tokens_to_ids(piece)
        assert torch.allclose(model.get_input_embeddings().weight[new_id], old_embeddings[old_ids].mean(0))
        assert torch.allclose(model.get_output_embeddings().weight[new_id], old_head[old_ids].mean(0))
    assert torch.equal(model.get_input_embeddings().weight[: len(old_embeddings)], old_embeddings)


def test_tokenizer_commands(corpus, cpt_model, tmp_path):
    assert cli("tokenizer", "train", "--data", corpus / "text.jsonl", "--output", tmp_path / "spm",
               "--vocab-size", "300", "--model-type", "bpe") == 0
    assert (tmp_path / "spm" / "tokenizer.model").is_file()
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor(model_file=str(tmp_path / "spm" / "tokenizer.model"))
    model, tok = models.load_model("tiny-qwen2", "causal-lm", tokenizer=tmp_path / "spm")
    sample = "il-kelb jiekol il-ħobż fil-ġnien. ħ€"
    assert tok(sample, add_special_tokens=False)["input_ids"] == processor.encode(sample)
    assert model.config.vocab_size == len(tok) and model.config.eos_token_id == tok.eos_token_id
    assert cli("tokenizer", "extend", "--model", cpt_model, "--data", corpus / "bo.jsonl", "--output",
               tmp_path / "extended", "--new-pieces", "20") == 0
    report = json.loads((tmp_path / "extended" / "extend_report.json").read_text())
    assert report["fertility_after"]["pieces_per_word"] < report["fertility_before"]["pieces_per_word"]
    assert cli("tokenizer", "report", "--tokenizer", tmp_path / "spm" / "tokenizer.model", "--data",
               corpus / "text.jsonl", "--output", tmp_path / "fertility.json") == 0
    stats = json.loads((tmp_path / "fertility.json").read_text())
    assert set(stats) == {"all", "mt"} and stats["mt"]["unknown_rate"] == 0.0


def test_fertility_counts_tibetan_syllables_and_byte_fallback(cpt_model):
    counter = tokenizer.PieceCounter(cpt_model)  # byte-level BPE trained on Latin text only
    records = [data.SourcedRecord({"text": "བཀྲ་ཤིས་བདེ་ལེགས།", "lang": "bo"}, "x", 1)]
    stats = tokenizer.fertility(counter, records)
    assert stats["bo"]["words"] == 4
    assert stats["bo"]["byte_fallback_rate"] > 0.9
    # Groups come from record fields or `meta` (where the corpus builder puts the scheme's signature).
    schemes = [data.SourcedRecord({"text": "il-kelb", "lang": "mt", "meta": {"scheme": name}}, "x", 1)
               for name in ("chartx", "morphtx")]
    assert set(tokenizer.fertility(counter, schemes)) == {"all", "mt/chartx", "mt/morphtx"}


def test_bad_records_name_file_and_line(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine"}\n{"body": "no text"}\n', encoding="utf-8")
    with pytest.raises(Exception, match=r"bad.jsonl:2: record has no text field 'text'"):
        data.texts_of(data.load_records(path))
    assert cli("cpt", "--model", "tiny-qwen2", "--data", path, "--output", tmp_path / "o") == 2
    assert "bad.jsonl:2" in capsys.readouterr().err


def test_tiny_models_are_seeded_and_lora_merges_on_save(tmp_path):
    texts = ["il-kelb jiekol il-ħobż"] * 20
    first, tok = models.load_model("tiny-qwen2", "causal-lm", texts=texts, seed=3, tiny={"vocab_size": 300})
    second, _ = models.load_model("tiny-qwen2", "causal-lm", texts=texts, seed=3, tiny={"vocab_size": 300})
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True))
    lora, _ = models.load_model("tiny-qwen2", "causal-lm", texts=texts, seed=3, tiny={"vocab_size": 300},
                                lora=models.LoraSettings(target_modules=("q_proj", "v_proj")))
    saved = models.save_model(lora, tok, tmp_path / "merged")
    from safetensors import safe_open

    with safe_open(str(saved / "model.safetensors"), framework="pt") as handle:
        assert not any("lora" in key for key in handle.keys())
    bert, bert_tok = models.load_model("tiny-bert", "token-classification", texts=texts, labels=["NOUN", "VERB"])
    assert bert.config.id2label == {0: "NOUN", 1: "VERB"} and type(bert).__name__ == "BertForTokenClassification"
    assert bert_tok(["il-kelb", "jiekol"], is_split_into_words=True).word_ids() == [None, 0, 0, 0, 1, None]
    with pytest.raises(Exception, match="does not support task"):
        models.load_model("tiny-qwen2", "token-classification", texts=texts)
