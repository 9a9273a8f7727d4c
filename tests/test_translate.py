"""augment.translate and `augkit translate` on tiny models built here (no hub access).

Models: a Marian model trained for well under a minute to spell out digit strings, keeping bracket
markers in place (real decoding), and
random-weight Marian, NLLB, M2M-100, MADLAD-style T5 and Llama models whose tokenizers are trained
on the fly; each is saved as a Hugging Face model and converted by the code under test.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest

from augment import cli
from augment.errors import AugkitError
from augment.translate import Decoding, Translator
from augment.translate.filters import default_filters
from augment.translate.models import prepare_model
from augment.translate.stream import StreamCounts, translate_records

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("ctranslate2")
torch.set_num_threads(1)  # tiny models; extra threads only spin on a shared machine

CORPUS = [f"the {word} number {i} is {color}" for i, (word, color) in enumerate(
    zip(["cat", "dog", "house", "tree", "river"] * 20, ["blue", "red", "green", "white"] * 25, strict=True))]
CORPUS += ["il-qattus huwa hawn", "القطة هنا اليوم", "猫在这里。", "བཀྲ་ཤིས་བདེ་ལེགས།"] * 10
FLORES = ["arb_Arab", "mlt_Latn", "eng_Latn", "bod_Tibt", "zho_Hans"]
WORDS = "zero one two three four five six seven eight nine".split()


# --- the trained model: spell out digits, keeping bracket markers where they are -----------------------


def spelled_pair(rng: random.Random) -> tuple[str, str]:
    """"3 [ 0 6 ] 2" -> "three [ zero six ] two": 3-8 digits, up to two marked spans."""
    digits = [str(rng.randrange(10)) for _ in range(rng.randint(3, 8))]
    cuts = sorted(rng.sample(range(len(digits) + 1), 2 * rng.choice([0, 0, 1, 2])))
    source = []
    for index, digit in enumerate(digits):
        source += ["]"] * cuts[1::2].count(index) + ["["] * cuts[0::2].count(index) + [digit]
    source += ["]"] * cuts[1::2].count(len(digits))
    return " ".join(source), " ".join(WORDS[int(token)] if token.isdigit() else token for token in source)


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory) -> Path:
    from finetune.seq2seq import Seq2SeqConfig, train_seq2seq

    rng, heldout_rng = random.Random(0), random.Random(1)
    pairs = [spelled_pair(rng) for _ in range(4000)]
    seen = {source for source, _ in pairs}
    heldout = [pair for pair in (spelled_pair(heldout_rng) for _ in range(400)) if pair[0] not in seen][:300]
    # Trained to a quality, not a step count: greedy decoding exact on >= 99% of the held-out pairs
    # (reached between steps 700 and 1,000 of the 1,500 cap on the kernels tried; at 500 steps the
    # model was at 93-98% and the CLI test below passed or failed by CPU). 100% is no target: one
    # pair may stay wrong on one CPU and right on another.
    model = train_seq2seq(pairs, tmp_path_factory.mktemp("spelled"), Seq2SeqConfig(
        steps=1500, max_seconds=None, learning_rate=3e-3, schedule="linear", target_exact=0.99), heldout)
    training = json.loads((model / "training.json").read_text(encoding="utf-8"))
    assert training["stopped"] == "target", f"held-out exact match by step: {training['checks']}"
    return model


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("augkit-cache")


# --- random-weight models of each family --------------------------------------------------------------


def _spm(texts, path: Path, model_type: str, vocab_size: int = 80, symbols=()):
    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_writer=model, vocab_size=vocab_size, model_type=model_type,
        character_coverage=1.0, hard_vocab_limit=False, minloglevel=2, num_threads=1,
        user_defined_symbols=list(symbols))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.getvalue())
    return path


def _vocab_size(tokenizer) -> int:
    return max(len(tokenizer), max(tokenizer.get_vocab().values()) + 1)


def _save(model, tokenizer, out: Path) -> Path:
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return out


def _m2m_config(tokenizer, **extra):
    return transformers.M2M100Config(
        vocab_size=_vocab_size(tokenizer), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id, init_std=0.3, **extra)


@pytest.fixture(scope="session")
def nllb_model(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("nllb")
    _spm(CORPUS, root / "spm" / "sentencepiece.bpe.model", "bpe")
    tokenizer = transformers.NllbTokenizer.from_pretrained(str(root / "spm"), extra_special_tokens=FLORES)
    torch.manual_seed(0)
    return _save(transformers.M2M100ForConditionalGeneration(_m2m_config(tokenizer)), tokenizer, root / "model")


@pytest.fixture(scope="session")
def m2m_model(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("m2m")
    spm = _spm(CORPUS, root / "sentencepiece.bpe.model", "bpe")
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor(model_file=str(spm))
    vocabulary = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for index in range(processor.get_piece_size()):
        vocabulary.setdefault(processor.id_to_piece(index), len(vocabulary))
    (root / "vocab.json").write_text(json.dumps(vocabulary), encoding="utf-8")
    from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES

    # As in facebook/m2m100_418M: the language tokens are listed as special tokens, and the model's
    # vocabulary ends with 8 made-up words.
    codes = [f"__{code}__" for code in FAIRSEQ_LANGUAGE_CODES["m2m100"]]
    tokenizer = transformers.M2M100Tokenizer(str(root / "vocab.json"), str(spm), extra_special_tokens=codes)
    config = _m2m_config(tokenizer)
    config.vocab_size = len(tokenizer) + tokenizer.num_madeup_words
    torch.manual_seed(1)
    return _save(transformers.M2M100ForConditionalGeneration(config), tokenizer, root / "model")


@pytest.fixture(scope="session")
def marian_model(tmp_path_factory) -> Path:
    from finetune.seq2seq import new_marian, train_tokenizer

    root = tmp_path_factory.mktemp("marian")
    train_tokenizer(CORPUS, root, vocab_size=80, special_tokens=[">>mlt<<", ">>arb<<"])
    tokenizer = transformers.MarianTokenizer.from_pretrained(str(root))
    return _save(new_marian(tokenizer, d_model=32, layers=1, ffn_dim=64, seed=2), tokenizer, root)


@pytest.fixture(scope="session")
def t5_model(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("t5")
    _spm(CORPUS, root / "spm" / "spiece.model", "unigram", symbols=["<2mt>", "<2ar>", "<2bo>"])
    tokenizer = transformers.T5Tokenizer.from_pretrained(str(root / "spm"), extra_ids=0)
    config = transformers.T5Config(vocab_size=_vocab_size(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=1,
                                   num_heads=2, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                                   decoder_start_token_id=tokenizer.pad_token_id, initializer_factor=3.0)
    torch.manual_seed(3)
    return _save(transformers.T5ForConditionalGeneration(config), tokenizer, root / "model")


@pytest.fixture(scope="session")
def llm_model(tmp_path_factory) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    root = tmp_path_factory.mktemp("llm")
    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    from tokenizers import decoders

    backend.decoder = decoders.ByteLevel()
    prompts = [f"Translate from Standard Arabic to Maltese.\nStandard Arabic: {text}\nMaltese: {text}" for text in CORPUS]
    backend.train_from_iterator(prompts, trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"],
                                                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>",
                                                     unk_token="<unk>")
    config = transformers.LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                                      max_position_embeddings=256, bos_token_id=tokenizer.bos_token_id,
                                      eos_token_id=tokenizer.eos_token_id, initializer_range=0.3)
    torch.manual_seed(4)
    return _save(transformers.LlamaForCausalLM(config), tokenizer, root / "model")


def main(argv: list[str]) -> int:
    """`augkit ARGV` through the real dispatcher, with only this issue's commands registered (the
    others' imports are not this test's business)."""
    modules = cli.COMMAND_MODULES
    cli.COMMAND_MODULES = ["augment.commands.translate", "finetune.seq2seq"]
    try:
        return cli.main(argv)
    finally:
        cli.COMMAND_MODULES = modules


def _translator(model: Path, cache_dir: Path, src="ar", tgt="mt", **options) -> Translator:
    options.setdefault("decoding", Decoding(beam_size=1))
    return Translator(str(model), src, tgt, quantization=options.pop("quantization", "float32"), device="cpu",
                      intra_threads=1, cache=cache_dir, translation_cache=options.pop("translation_cache", False), **options)


# --- families: language handling ----------------------------------------------------------------------


def test_nllb_language_tokens(nllb_model, cache_dir):
    translator = _translator(nllb_model, cache_dir, "ara", "mt")
    assert translator.family.name == "nllb"
    assert translator.family.source_tokens("the cat")[0] == "arb_Arab"  # source language on the tokenizer
    assert translator.family.target_prefix() == ["mlt_Latn"]
    assert all("mlt_Latn" not in hyp for hyps in translator.translate(["the cat is here"]).values() for hyp in hyps)
    with pytest.raises(AugkitError, match="no token 'ita_Latn'"):
        _translator(nllb_model, cache_dir, "ar", "it")


def test_m2m100_language_tokens(m2m_model, cache_dir):
    translator = _translator(m2m_model, cache_dir, "arb_Arab", "eng_Latn")
    assert translator.family.name == "m2m100"
    assert translator.family.source_tokens("the cat")[0] == "__ar__"
    assert translator.family.target_prefix() == ["__en__"]
    with pytest.raises(AugkitError, match="__mt__"):
        _translator(m2m_model, cache_dir, "ar", "mt")  # M2M-100 has no Maltese


def test_marian_multi_target_token(marian_model, cache_dir):
    translator = _translator(marian_model, cache_dir, "en", "mlt")
    assert translator.family.name == "marian"
    assert translator.family.target_prefix() is None
    assert translator.family.source_tokens("the cat")[0] == ">>mlt<<"
    with pytest.raises(AugkitError, match="multi-target"):
        _translator(marian_model, cache_dir, "en", "bo")


def test_t5_madlad_prefix(t5_model, cache_dir):
    translator = _translator(t5_model, cache_dir, "en", "mt")
    assert translator.family.name == "t5"
    tokens = translator.family.source_tokens("the cat")
    assert tokens[0] == "<2mt>" and tokens[-1] == "</s>"
    assert translator.family.target_prefix() is None
    with pytest.raises(AugkitError, match="<2zh>"):
        _translator(t5_model, cache_dir, "en", "zh")


def test_llm_prompt_and_hf_agreement(llm_model, cache_dir):
    translator = _translator(llm_model, cache_dir, "ar", "mt", decoding=Decoding(beam_size=1, max_length_extra=8))
    assert translator.family.generator and translator.family.name == "llm"
    assert translator.family.prompt("x") == "Translate from Standard Arabic to Maltese.\nStandard Arabic: x\nMaltese:"
    texts = CORPUS[:20]
    ours = translator.translate(texts)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(llm_model))
    model = transformers.AutoModelForCausalLM.from_pretrained(str(llm_model)).eval()
    agree = 0
    for text in texts:
        prompt = tokenizer(translator.family.prompt(text), return_tensors="pt")
        # A random model rarely ends by itself, and CTranslate2 counts the length budget of a batch of
        # prompts differently; so Hugging Face gets a longer budget and ours must be its beginning.
        with torch.no_grad():
            generated = model.generate(**prompt, max_new_tokens=200, do_sample=False, num_beams=1,
                                       eos_token_id=[tokenizer.convert_tokens_to_ids(t) for t in translator.end_tokens])
        expected = tokenizer.decode(generated[0, prompt["input_ids"].shape[1]:], skip_special_tokens=True)
        expected = expected.split("\n", 1)[0].strip()
        (ours_text,) = ours[text]
        agree += expected.startswith(ours_text[:-2]) and len(ours_text) > 10 or ours_text == expected
    assert agree >= 19


def test_prompt_template_checks(llm_model, nllb_model, cache_dir):
    with pytest.raises(AugkitError, match="placeholder"):
        _translator(llm_model, cache_dir, prompt_template="Translate: {src}")
    with pytest.raises(AugkitError, match="decoder-only"):
        _translator(nllb_model, cache_dir, prompt_template="{text}")


# --- conversion cache ---------------------------------------------------------------------------------


def test_conversion_cache_is_content_addressed(marian_model, tmp_path, monkeypatch):
    first = prepare_model(str(marian_model), quantization="float32", cache=tmp_path / "a")
    assert first.ct2_dir.parent == tmp_path / "a" / "ct2"
    assert (first.ct2_dir / "model.bin").is_file() and (first.tokenizer_dir / "vocab.json").is_file()
    stamp = (first.ct2_dir / "model.bin").stat().st_mtime_ns
    again = prepare_model(str(marian_model), quantization="float32", cache=tmp_path / "a")
    assert again == first and (again.ct2_dir / "model.bin").stat().st_mtime_ns == stamp  # not converted twice
    assert prepare_model(str(marian_model), quantization="int8", cache=tmp_path / "a").ct2_dir != first.ct2_dir
    monkeypatch.setenv("AUGKIT_CACHE", str(tmp_path / "env"))
    from_env = prepare_model(str(marian_model), quantization="float32")
    assert from_env.ct2_dir.parent == tmp_path / "env" / "ct2" and from_env.fingerprint == first.fingerprint
    # A converted directory loads as it is, its family and tokenizer found beside it.
    direct = prepare_model(str(first.ct2_dir), quantization="float32")
    assert direct.family == "marian" and direct.tokenizer_dir == first.tokenizer_dir
    with pytest.raises(AugkitError, match="neither a CTranslate2 model"):
        prepare_model(str(tmp_path))


# --- real decoding ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_trained_model_spells_digits_through_the_cli(trained_model, cache_dir, tmp_path):
    rng = random.Random(123)
    pairs = []
    while len(pairs) < 200:
        source, target = spelled_pair(rng)
        if "[" not in source:
            pairs.append((source, target))
    (tmp_path / "in.txt").write_text("".join(f"{source}\n" for source, _ in pairs), encoding="utf-8")
    code = main(["translate", "--model", str(trained_model), "--src", "en", "--tgt", "mt", "--input",
                 str(tmp_path / "in.txt"), "--output", str(tmp_path / "out.txt"), "--cache", str(cache_dir),
                 "--translation-cache", str(tmp_path / "tc.sqlite"), "--quantization", "float32", "--beam", "4",
                 "--language-check", "script", "--intra-threads", "1", "--quiet"])
    assert code == 0
    outputs = (tmp_path / "out.txt").read_text(encoding="utf-8").splitlines()
    summary = json.loads((tmp_path / "out.txt.summary.json").read_text(encoding="utf-8"))
    assert summary["records"] == 200 and summary["accepted"] + summary["rejected"] == 200
    assert len(outputs) == summary["accepted"]
    expected = {source: target for source, target in pairs}
    rejected = [json.loads(line) for line in (tmp_path / "out.txt.rejected.jsonl").read_text().splitlines()]
    translations = dict(zip([s for s, _ in pairs if s not in {r["meta"]["translation"]["source"] for r in rejected}],
                            outputs, strict=True))
    exact = sum(translations.get(source) == target for source, target in expected.items())
    assert exact >= 0.95 * len(pairs), f"only {exact}/{len(pairs)} exact"


@pytest.mark.slow
def test_ctranslate2_greedy_equals_hf_generate(trained_model, nllb_model, cache_dir):
    rng = random.Random(7)
    cases = [(trained_model, "en", "mt", [spelled_pair(rng)[0] for _ in range(150)]),
             (nllb_model, "ar", "mt", CORPUS[::3])]
    for model_dir, src, tgt, texts in cases:
        # The length budget is per batch; a fixed one (20 tokens) lets each sentence be compared alone.
        translator = _translator(model_dir, cache_dir, src, tgt,
                                 decoding=Decoding(beam_size=1, max_length_ratio=1e-6, max_length_extra=20))
        ours = translator.translate(texts)
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(translator.files.tokenizer_dir))
        model = transformers.AutoModelForSeq2SeqLM.from_pretrained(str(model_dir)).eval()
        prefix = translator.family.target_prefix() or []
        agree = 0
        for text in texts:
            ids = tokenizer.convert_tokens_to_ids(translator.family.source_tokens(text))
            options = {"forced_bos_token_id": tokenizer.convert_tokens_to_ids(prefix[0])} if prefix else {}
            with torch.no_grad():
                generated = model.generate(torch.tensor([ids]), num_beams=1, do_sample=False,
                                           max_new_tokens=20 + len(prefix), **options)
            agree += ours[text] == [tokenizer.decode(generated[0], skip_special_tokens=True).strip()]
        assert agree >= 0.99 * len(texts), f"{model_dir.name}: {agree}/{len(texts)}"


@pytest.mark.slow
def test_markers_survive_a_trained_model_and_fall_back(trained_model, cache_dir):
    translator = _translator(trained_model, cache_dir, "en", "mt", decoding=Decoding(beam_size=4))
    records = [
        {"id": "a", "tokens": ["1", "2", "3", "4"], "labels": ["B-PER", "I-PER", "O", "B-LOC"]},
        {"id": "b", "tokens": ["5", "6", "7"], "labels": ["O", "B-ORG", "O"], "sentiment": "pos"},
        # Brackets in the text make markers ambiguous: the entity's own translation is looked up instead.
        {"id": "c", "tokens": ["8", "9", "0", "[", "1", "]"], "labels": ["B-LOC", "I-LOC", "I-LOC", "O", "O", "O"]},
    ]
    counts = StreamCounts()
    results = list(translate_records(records, translator, filters=[], counts=counts))
    (first, reason_a), (second, reason_b), (third, reason_c) = results
    assert reason_a is None and reason_b is None and reason_c is None
    assert first["tokens"] == ["one", "two", "three", "four"] and first["labels"] == ["B-PER", "I-PER", "O", "B-LOC"]
    assert second["tokens"] == ["five", "six", "seven"] and second["labels"] == ["O", "B-ORG", "O"]
    assert second["sentiment"] == "pos"  # sentence-level labels are copied
    assert third["tokens"] == ["eight", "nine", "zero", "[", "one", "]"]
    assert third["labels"] == ["B-LOC", "I-LOC", "I-LOC", "O", "O", "O"]
    assert counts.projection == {"markers": 2, "fuzzy": 1}


# --- streaming, deduplication, documents, resume -------------------------------------------------------


@pytest.mark.slow
def test_documents_are_split_and_rejoined_in_order(trained_model, cache_dir):
    translator = _translator(trained_model, cache_dir, "en", "mt", decoding=Decoding(beam_size=4))
    records = [{"id": "d", "text": "1 2 3\n4 5 6\n\n7 8 9"}, {"id": "e", "text": "1 2 3"}]
    results = list(translate_records(records, translator, filters=[]))
    assert [record["text"] for record, _ in results] == ["one two three\nfour five six\n\nseven eight nine",
                                                         "one two three"]
    assert translator.stats.segments == 3  # "1 2 3" decoded once for both records


def _digit_records(count: int, seed: int = 5) -> list[dict]:
    rng = random.Random(seed)
    return [{"id": str(i), "text": spelled_pair(rng)[0].replace("[ ", "").replace(" ]", "")} for i in range(count)]


@pytest.mark.slow
def test_resume_after_crash_loses_and_duplicates_nothing(trained_model, cache_dir, tmp_path):
    records = _digit_records(120)
    decoding = Decoding(beam_size=2)
    reference = [(r["id"], r["text"]) for r, _ in translate_records(
        records, _translator(trained_model, cache_dir, "en", "mt", decoding=decoding), filters=[], window=25)]

    def crashing(limit):
        for index, record in enumerate(records):
            if index == limit:
                raise KeyboardInterrupt  # the user presses Ctrl-C while window 3 is read
            yield record

    cache_file = tmp_path / "resume.sqlite"
    first = _translator(trained_model, cache_dir, "en", "mt", decoding=decoding, translation_cache=cache_file)
    done = []
    with pytest.raises(KeyboardInterrupt):
        for record, _ in translate_records(crashing(70), first, filters=[], window=25):
            done.append(record["id"])
    first.close()
    assert 0 < len(done) < 120
    done_texts = {record["text"] for record in records if record["id"] in set(done)}
    second = _translator(trained_model, cache_dir, "en", "mt", decoding=decoding, translation_cache=cache_file)
    resumed = [(r["id"], r["text"]) for r, _ in translate_records(records, second, filters=[], window=25)]
    assert resumed == reference  # nothing lost, nothing duplicated, same order and text
    distinct = len({r["text"] for r in records})
    assert second.stats.cached >= len(done_texts)  # what was finished before the crash came from the cache
    assert second.stats.cached + second.stats.decoded == distinct
    third = _translator(trained_model, cache_dir, "en", "mt", decoding=decoding, translation_cache=cache_file)
    list(translate_records(records, third, filters=[], window=25))
    assert third.stats.decoded == 0  # a re-run is free
    other = _translator(trained_model, cache_dir, "en", "mt", decoding=Decoding(beam_size=1), translation_cache=cache_file)
    list(translate_records(records[:5], other, filters=[]))
    assert other.stats.cached == 0  # other decoding settings never reuse these translations


def test_sampling_is_seeded_and_gives_several_hypotheses(nllb_model, cache_dir):
    def run(seed):
        decoding = Decoding(beam_size=1, sampling_topk=0, sampling_temperature=1.5, num_hypotheses=3, seed=seed)
        translator = _translator(nllb_model, cache_dir, decoding=decoding)
        return list(translate_records([{"id": "x", "text": CORPUS[0]}, {"id": "y", "text": CORPUS[1]}], translator,
                                      filters=[]))

    first, again, other = run(1), run(1), run(2)
    assert [r["id"] for r, _ in first] == ["x#0", "x#1", "x#2", "y#0", "y#1", "y#2"]
    assert [r["text"] for r, _ in first] == [r["text"] for r, _ in again]
    assert [r["text"] for r, _ in first] != [r["text"] for r, _ in other]
    with pytest.raises(AugkitError, match="--beam 1"):
        Decoding(beam_size=4, sampling_topk=10)


def test_batches_respect_the_token_budget(nllb_model, cache_dir):
    translator = _translator(nllb_model, cache_dir, max_batch_tokens=64)
    texts = [" ".join(CORPUS[i:i + n]) for i, n in zip(range(0, 60, 3), [1, 2, 3, 1, 2] * 4, strict=True)]
    tokens = {text: translator.family.source_tokens(text) for text in texts}
    batches = list(translator._batches(sorted(set(texts), key=lambda t: len(tokens[t])), tokens))
    assert sum(map(len, batches)) == len(set(texts))
    assert all(len(batch) == 1 or max(len(tokens[t]) for t in batch) * len(batch) <= 64 for batch in batches)
    translator.translate(texts + texts)
    assert translator.stats.decoded == len(set(texts))  # identical segments translated once


# --- the command line -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_jsonl_with_labels_and_rejects(trained_model, cache_dir, tmp_path):
    rows = [{"id": "1", "text": "1 2 3", "tokens": ["1", "2", "3"], "ner": ["B-X", "O", "O"], "label": "a"},
            {"id": "2", "text": "", "tokens": [], "ner": [], "label": "b"}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    code = main(["translate", "-m", str(trained_model), "--src", "en", "--tgt", "mt", "-i", str(tmp_path / "in.jsonl"),
                 "-o", str(tmp_path / "out.jsonl"), "--labels-column", "ner", "--cache", str(cache_dir),
                 "--translation-cache", str(tmp_path / "tc.sqlite"), "--language-check", "script", "-q",
                 "--intra-threads", "1"])
    assert code == 0
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert out == [{"id": "1", "text": "one two three", "tokens": ["one", "two", "three"], "ner": ["B-X", "O", "O"],
                    "label": "a"}]
    rejected = [json.loads(line) for line in (tmp_path / "out.jsonl.rejected.jsonl").read_text().splitlines()]
    assert [(r["id"], r["reason"]) for r in rejected] == [("2", "empty")]
    summary = json.loads((tmp_path / "out.jsonl.summary.json").read_text())
    assert summary["rejected_by_reason"] == {"empty": 1} and summary["accepted"] == 1
    assert summary["signature"].startswith("model:") and "beam:4" in summary["signature"]


def test_cli_errors_are_one_line(nllb_model, cache_dir, tmp_path, capsys):
    (tmp_path / "in.csv").write_text("sentence\nhello\n", encoding="utf-8")
    base = ["translate", "-m", str(nllb_model), "--cache", str(cache_dir), "--no-translation-cache", "-q",
            "--intra-threads", "1",
            "-o", str(tmp_path / "out.csv")]
    assert main([*base, "--src", "ar", "--tgt", "xx-nonsense", "-i", str(tmp_path / "in.csv")]) == 2
    assert main([*base, "--src", "ar", "--tgt", "mt", "-i", str(tmp_path / "in.csv")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("augkit translate: error:")]
    assert len(errors) == 2 and "no text column 'text'" in errors[1] and str(tmp_path / "in.csv") in errors[1]
    assert main([*base, "--src", "ar", "--tgt", "mt", "--column", "sentence", "--language-check", "none",
                 "-i", str(tmp_path / "in.csv")]) == 0
    assert (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()[0] == "sentence"


def test_default_filters_use_language_identification():
    from augment.translate.filters import WrongLanguage, first_failure

    chain = default_filters("mt")
    assert isinstance(chain[-1], WrongLanguage)
    source = "The weather in Valletta is very nice today and the sea is calm."
    assert first_failure(chain, source, "Illum it-temp il-Belt Valletta huwa sabiħ ħafna u l-baħar kalm.") is None
    assert first_failure(chain, source, "Le temps à La Valette est très beau aujourd'hui et la mer est calme.") \
        == "wrong_language"


@pytest.mark.slow
def test_train_mt_command_output_translates(cache_dir, tmp_path):
    rows = [{"src": f"{a} {b}", "tgt": f"{WORDS[a]} {WORDS[b]}"} for a in range(10) for b in range(10)]
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    assert main(["train-mt", "-d", str(tmp_path / "pairs.jsonl"), "--source-column", "src", "--target-column", "tgt",
                 "-o", str(tmp_path / "mt"), "--steps", "3", "--max-seconds", "0"]) == 0
    (tmp_path / "in.txt").write_text("1 2\n3 4\n", encoding="utf-8")
    assert main(["translate", "-m", str(tmp_path / "mt"), "--src", "en", "--tgt", "mt", "-i", str(tmp_path / "in.txt"),
                 "-o", str(tmp_path / "out.txt"), "--cache", str(cache_dir), "--no-translation-cache",
                 "--language-check", "none", "--min-output-ratio", "0", "--max-output-ratio", "100", "-q",
                 "--intra-threads", "1"]) == 0
    summary = json.loads((tmp_path / "out.txt.summary.json").read_text())
    assert summary["records"] == 2 and summary["segments_decoded"] == 2
    assert main(["train-mt", "-d", str(tmp_path / "pairs.jsonl"), "-o", str(tmp_path / "x")]) == 2  # no 'source' column
