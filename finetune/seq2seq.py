"""Tiny sequence-to-sequence translation models, trained from scratch on a bitext in minutes on a CPU.

    model_dir = train_seq2seq(pairs, "runs/tiny-mt", Seq2SeqConfig(max_seconds=60))

(or `augkit train-mt --data pairs.jsonl --output runs/tiny-mt`) gives a Marian-architecture Hugging Face model directory (shared SentencePiece vocabulary trained
on the bitext, MarianTokenizer files beside the weights) that `augkit translate --model model_dir`
converts and runs like any OPUS-MT model. The demo and the tests use it to show real decoding
without downloading anything; `new_marian` also builds untrained models of any size for benchmarks.

Trained to a quality rather than a step count: with held-out pairs and `target_exact`, greedy exact
match on the held-out pairs is checked every `check_every` steps and training stops once it reaches
the target (`steps` is then only a cap). `training.json` beside the weights records the steps run,
why training stopped and every check, so a caller can refuse a model that missed its target.
"""

from __future__ import annotations

import io
import json
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from augment.errors import AugkitError
from corpora.writers import write_text_atomic


@dataclass(frozen=True)
class Seq2SeqConfig:
    vocab_size: int = 64  # SentencePiece may stop below this on small data
    d_model: int = 64
    layers: int = 2  # encoder and decoder each
    heads: int = 4
    ffn_dim: int = 256
    steps: int = 3000  # upper bound; max_seconds usually stops training first
    max_seconds: float | None = 60.0
    batch_size: int = 64
    learning_rate: float = 3e-3
    warmup_steps: int = 100
    schedule: str = "constant"  # after warm-up; "linear" decays to zero at `steps` (a sharper final model)
    target_exact: float | None = None  # stop once greedy exact match on the held-out pairs reaches this share
    check_every: int = 100
    # One thread: a model this small gains little from more, and on a busy machine torch's spinning
    # OpenMP workers make two threads several times slower than one.
    threads: int = 1
    seed: int = 0


def train_tokenizer(texts: Iterable[str], out_dir: str | Path, vocab_size: int = 64,
                    special_tokens: Sequence[str] = ()) -> Path:
    """A shared SentencePiece (unigram) vocabulary saved as MarianTokenizer files: `source.spm`,
    `target.spm`, `vocab.json` (`</s>` = 0, `<unk>` = 1, `<pad>` last). `special_tokens` are kept
    whole (e.g. `>>mlt<<` target-language tokens of multi-target models)."""
    import sentencepiece
    from transformers import MarianTokenizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(list(texts)), model_writer=model, vocab_size=vocab_size, model_type="unigram",
        character_coverage=1.0, hard_vocab_limit=False, eos_id=0, unk_id=1, bos_id=-1, pad_id=-1,
        minloglevel=2, num_threads=1, user_defined_symbols=list(special_tokens))
    for name in ("source.spm", "target.spm"):
        (out / name).write_bytes(model.getvalue())
    processor = sentencepiece.SentencePieceProcessor(model_proto=model.getvalue())
    vocabulary = {processor.id_to_piece(i): i for i in range(processor.get_piece_size())}
    vocabulary["<pad>"] = len(vocabulary)
    (out / "vocab.json").write_text(json.dumps(vocabulary, ensure_ascii=False), encoding="utf-8")
    MarianTokenizer(str(out / "source.spm"), str(out / "target.spm"), str(out / "vocab.json")).save_pretrained(str(out))
    return out


def new_marian(tokenizer, *, d_model: int = 64, layers: int = 2, heads: int = 4, ffn_dim: int = 256,
               max_positions: int = 512, seed: int = 0):
    """An untrained MarianMTModel sized to `tokenizer`'s vocabulary."""
    import torch
    from transformers import MarianConfig, MarianMTModel

    torch.manual_seed(seed)
    config = MarianConfig(
        vocab_size=len(tokenizer), d_model=d_model, encoder_layers=layers, decoder_layers=layers,
        encoder_attention_heads=heads, decoder_attention_heads=heads, encoder_ffn_dim=ffn_dim,
        decoder_ffn_dim=ffn_dim, max_position_embeddings=max_positions, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id,
        dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
        # MarianConfig forces </s> at the length limit by default, which CTranslate2 does not do.
        forced_eos_token_id=None,
        share_encoder_decoder_embeddings=True, tie_word_embeddings=True,
        # Scaled embeddings of unit size, so that the sinusoidal positions do not drown the tokens.
        scale_embedding=True, init_std=d_model**-0.5)
    model = MarianMTModel(config)
    _zero_start_embedding(model)
    # Marian never emits <pad>; CTranslate2 drops it from the vocabulary, so generate must not pick it either.
    model.generation_config.bad_words_ids = [[tokenizer.pad_token_id]]
    model.generation_config.forced_eos_token_id = None
    return model


def _zero_start_embedding(model) -> None:
    """Marian decoders start from a zero embedding (the <pad> row), which is what CTranslate2 assumes.
    With tied input/output embeddings the output layer's gradient moves that row, so it is reset
    after every step."""
    import torch

    with torch.no_grad():
        model.get_input_embeddings().weight[model.config.pad_token_id].zero_()


SCHEDULES = ("constant", "linear")


def _learning_rate_factor(config: Seq2SeqConfig):
    def factor(step: int) -> float:
        warmup = min(1.0, (step + 1) / config.warmup_steps)
        if config.schedule == "linear" and step >= config.warmup_steps:
            return max(0.0, (config.steps - step) / max(1, config.steps - config.warmup_steps))
        return warmup
    return factor


def exact_matches(model, tokenizer, pairs: Sequence[tuple[str, str]], batch_size: int = 256) -> int:
    """How many sources greedy decoding translates exactly into their target."""
    import torch

    was_training = model.training
    model.eval()
    exact = 0
    with torch.no_grad():
        for start in range(0, len(pairs), batch_size):
            batch = pairs[start:start + batch_size]
            inputs = tokenizer([source for source, _ in batch], padding=True, return_tensors="pt")
            longest = max(len(tokenizer(text_target=target)["input_ids"]) for _, target in batch)
            generated = model.generate(**inputs, num_beams=1, do_sample=False, max_new_tokens=longest + 5)
            hypotheses = tokenizer.batch_decode(generated, skip_special_tokens=True)
            exact += sum(hypothesis == target for hypothesis, (_, target) in zip(hypotheses, batch, strict=True))
    model.train(was_training)
    return exact


def train_seq2seq(pairs: Sequence[tuple[str, str]], out_dir: str | Path, config: Seq2SeqConfig = Seq2SeqConfig(),
                  heldout: Sequence[tuple[str, str]] = ()) -> Path:
    """Train a Marian model on (source, target) pairs; save model + tokenizer to `out_dir`; return it.

    `heldout` pairs (none of them in `pairs`) are checked every `config.check_every` steps when
    `config.target_exact` is set; `out_dir/training.json` says how training ended.
    """
    import torch

    if not pairs:
        raise AugkitError("train_seq2seq needs at least one (source, target) pair")
    if config.schedule not in SCHEDULES:
        raise AugkitError(f"unknown schedule {config.schedule!r}; use {' or '.join(SCHEDULES)}")
    if config.target_exact is not None and not heldout:
        raise AugkitError("a target exact match needs held-out pairs to measure it on")
    out = Path(out_dir)
    torch.set_num_threads(config.threads)
    tokenizer_dir = train_tokenizer([text for pair in pairs for text in pair], out, config.vocab_size)
    from transformers import MarianTokenizer

    tokenizer = MarianTokenizer.from_pretrained(str(tokenizer_dir))
    model = new_marian(tokenizer, d_model=config.d_model, layers=config.layers, heads=config.heads,
                       ffn_dim=config.ffn_dim, seed=config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _learning_rate_factor(config))
    order = random.Random(config.seed)
    examples, heldout = list(pairs), list(heldout)
    model.train()
    started = time.perf_counter()
    checks, stopped, steps_run = [], "steps", 0
    for step in range(1, config.steps + 1):
        batch = order.sample(examples, min(config.batch_size, len(examples)))
        inputs = tokenizer([source for source, _ in batch], text_target=[target for _, target in batch],
                           padding=True, return_tensors="pt")
        inputs["labels"][inputs["labels"] == tokenizer.pad_token_id] = -100
        loss = model(**inputs).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        _zero_start_embedding(model)
        schedule.step()
        optimizer.zero_grad()
        steps_run = step
        if config.target_exact is not None and (step % config.check_every == 0 or step == config.steps):
            checks.append([step, exact_matches(model, tokenizer, heldout)])
            if checks[-1][1] >= config.target_exact * len(heldout):
                stopped = "target"
                break
        if config.max_seconds is not None and time.perf_counter() - started > config.max_seconds:
            stopped = "time"
            break
    model.eval()
    model.save_pretrained(str(out))
    report = {"steps": steps_run, "stopped": stopped, "heldout_pairs": len(heldout),
              "heldout_exact": checks[-1][1] if checks else None, "target_exact": config.target_exact,
              "checks": checks}
    write_text_atomic(out / "training.json", json.dumps(report, indent=2) + "\n")
    return out


def register(subparsers) -> None:
    """`augkit train-mt`: train a tiny translation model on a bitext (for demos and tests)."""
    parser = subparsers.add_parser(
        "train-mt", help="train a tiny Marian translation model from scratch on a bitext (CPU, minutes)",
        description="Train a small Marian model (and its SentencePiece vocabulary) on source/target pairs; "
                    "the output directory works with `augkit translate --model`.")
    parser.add_argument("--data", "-d", required=True, help="pairs as jsonl, csv, tsv or parquet")
    parser.add_argument("--source-column", default="source")
    parser.add_argument("--target-column", default="target")
    parser.add_argument("--output", "-o", required=True, help="model directory to write")
    defaults = Seq2SeqConfig()
    parser.add_argument("--max-seconds", type=float, default=defaults.max_seconds,
                        help="stop training after this long (0 = run all --steps, reproducibly)")
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--vocab-size", type=int, default=defaults.vocab_size)
    parser.add_argument("--d-model", type=int, default=defaults.d_model)
    parser.add_argument("--layers", type=int, default=defaults.layers)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--schedule", choices=SCHEDULES, default=defaults.schedule,
                        help="learning rate after warm-up: constant, or linear decay to zero at --steps")
    parser.add_argument("--heldout-fraction", type=float, default=None,
                        help="hold out this share of the pairs (no source or target on both sides), for --target-exact")
    parser.add_argument("--target-exact", type=float, default=None,
                        help="stop once greedy exact match on the held-out pairs reaches this share (e.g. 0.99)")
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.set_defaults(func=_run)


def _run(args) -> int:
    from augment import formats
    from augment.errors import InputError

    table = formats.read_table(args.data, formats.format_from_path(args.data, default="jsonl"))
    for column in (args.source_column, args.target_column):
        if column not in table.columns:
            raise InputError(args.data, f"no column {column!r}; columns are {table.columns}")
    pairs = [(str(row[args.source_column]), str(row[args.target_column])) for row in table.rows]
    heldout = []
    if args.heldout_fraction is not None:
        from finetune.data import SourcedRecord, split_heldout

        records = [SourcedRecord({"source": source, "target": target}, args.data, number)
                   for number, (source, target) in enumerate(pairs, start=1)]
        train, held = split_heldout(records, args.heldout_fraction, args.seed, text_fields=("source", "target"))
        pairs, heldout = ([(r.record["source"], r.record["target"]) for r in part] for part in (train, held))
    config = Seq2SeqConfig(
        vocab_size=args.vocab_size, d_model=args.d_model, layers=args.layers, steps=args.steps,
        max_seconds=args.max_seconds or None, batch_size=args.batch_size, learning_rate=args.learning_rate,
        schedule=args.schedule, target_exact=args.target_exact, threads=args.threads, seed=args.seed)
    out = train_seq2seq(pairs, args.output, config, heldout)
    report = json.loads((out / "training.json").read_text(encoding="utf-8"))
    exact = (f", held-out exact {report['heldout_exact']}/{len(heldout)}" if report["heldout_exact"] is not None
             else "")
    print(f"augkit train-mt: {len(pairs)} pairs, {report['steps']} steps (stopped: {report['stopped']}){exact} -> {out}")
    return 0

