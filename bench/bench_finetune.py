"""Finetune benchmarks (issue 6, section 7): packing vs padding, CTranslate2 vs transformers generate.

    .venv/bin/python bench/bench_finetune.py [--shared ../shared/data] [--threads 2]

Prints the markdown recorded under "## Finetune (issue 6)" in bench/RESULTS.md.

1. Training throughput: the same tiny-qwen2 (hidden 128, 2 layers), optimiser and loop, fed
   either packed blocks (finetune.data.pack_blocks) or one text per row padded to the longest in
   its batch (finetune.data.pad_examples + pad_batch). Throughput counts real (non-padding)
   tokens per second of training steps; the ratio is packed / padded.
   Texts: Tibetan and English lines of ../shared/data/tibetan/bo_en.jsonl (lines vary from a few
   words to paragraphs, as real corpora do); without the shared data, seeded synthetic lines of
   varied length.
2. Generation: one saved tiny-qwen2 (hidden 256, 4 layers), the same prompts and greedy
   decoding (batch 16, up to 32 new tokens) through finetune.evaluate.generate with the `hf`
   and `ct2` backends; the ratio is ct2 / hf in generated tokens per second, and the share of
   identical outputs is reported.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from finetune import data, evaluate, models, sft  # noqa: E402

BLOCK = 256
BATCH = 8
STEPS = 20


def corpus(shared: Path, count: int = 1200) -> tuple[list[str], str]:
    path = shared / "tibetan" / "bo_en.jsonl"
    if path.is_file():
        texts = []
        with open(path, encoding="utf-8") as handle:
            for index, line in enumerate(handle):
                if index % 50 == 0:
                    record = json.loads(line)
                    texts.extend([record["bo"], record["en"]])
                if len(texts) >= count:
                    break
        return texts, f"{path.name} (every 50th pair, both sides)"
    rng = random.Random(0)
    words = ["il-kelb", "jiekol", "the", "garden", "bil-ballun", "plays", "xemx", "dar", "ilma", "child"]
    return [" ".join(rng.choice(words) for _ in range(rng.choice([3, 6, 12, 25, 60]))) for _ in range(count)], \
        "synthetic lines (no shared data)"


def train_throughput(model, batches: list[dict]) -> tuple[float, int]:
    """Real tokens per second over the timed steps (after one warm-up step)."""
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()

    def step(batch):
        loss = model(**batch).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)

    step(batches[0])
    real = 0
    start = time.perf_counter()
    for batch in batches[1:STEPS + 1]:
        step(batch)
        real += int(batch["attention_mask"].sum())
    return real / (time.perf_counter() - start), real


def bench_packing(texts: list[str]) -> dict:
    torch.manual_seed(0)
    model, tokenizer = models.load_model("tiny-qwen2", "causal-lm", texts=texts, seed=0,
                                         tiny={"vocab_size": 2000, "hidden_size": 128, "intermediate_size": 384})
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    blocks, stats = data.pack_blocks(tokenizer, texts, BLOCK)
    packed = [data.pad_batch(blocks[i:i + BATCH], tokenizer.pad_token_id) for i in range(0, len(blocks), BATCH)]
    examples = data.pad_examples(tokenizer, texts, BLOCK)
    random.Random(0).shuffle(examples)
    padded = [data.pad_batch(examples[i:i + BATCH], tokenizer.pad_token_id) for i in range(0, len(examples), BATCH)]
    packed_rate, _ = train_throughput(model, packed)
    model.load_state_dict(initial)
    padded_rate, _ = train_throughput(model, padded)
    padded_fraction = sum(int(b["attention_mask"].sum()) for b in padded) / sum(b["attention_mask"].numel() for b in padded)
    return {"packed_tokens_per_s": packed_rate, "padded_tokens_per_s": padded_rate,
            "ratio": packed_rate / padded_rate, "packed_non_padding": stats.non_padding_fraction,
            "padded_non_padding": padded_fraction, "parameters": models.count_parameters(model)}


def bench_generation(texts: list[str]) -> dict:
    model, tokenizer = models.load_model("tiny-qwen2", "causal-lm", texts=texts, seed=0, tiny={
        "vocab_size": 2000, "hidden_size": 256, "intermediate_size": 768, "num_hidden_layers": 4})
    prompts = [sft.generation_prompt(tokenizer, f"Translate: {t[:80]}") for t in texts[:64]]
    decoding = evaluate.Decoding(max_new_tokens=32, beam_size=1, batch_size=16)
    with tempfile.TemporaryDirectory() as scratch:
        directory = models.save_model(model, tokenizer, Path(scratch) / "model")
        evaluate.generate(model, tokenizer, prompts[:16], decoding, "ct2", directory)  # conversion + warm-up
        results = {}
        for backend in ("hf", "ct2"):
            start = time.perf_counter()
            outputs = evaluate.generate(model, tokenizer, prompts, decoding, backend, directory)
            seconds = time.perf_counter() - start
            generated = sum(len(tokenizer(o, add_special_tokens=False)["input_ids"]) for o in outputs)
            results[backend] = {"seconds": seconds, "tokens": generated, "outputs": outputs}
    same = sum(a == b for a, b in zip(results["hf"]["outputs"], results["ct2"]["outputs"], strict=True))
    hf_rate = results["hf"]["tokens"] / results["hf"]["seconds"]
    ct2_rate = results["ct2"]["tokens"] / results["ct2"]["seconds"]
    return {"hf_tokens_per_s": hf_rate, "ct2_tokens_per_s": ct2_rate, "ratio": ct2_rate / hf_rate,
            "identical": same / len(prompts), "prompts": len(prompts), "parameters": models.count_parameters(model)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    texts, source = corpus(args.shared)
    packing = bench_packing(texts)
    generation = bench_generation(texts)
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    print("## Finetune (issue 6)\n")
    print(f"Command: `.venv/bin/python bench/bench_finetune.py --threads {args.threads}`; machine: 2-core CPU, "
          f"24 GiB, no GPU ({platform.processor() or platform.machine()}), torch {torch.__version__}, "
          f"{args.threads} threads; {date}.\n")
    print(f"Training throughput, tiny-qwen2 ({packing['parameters']:,} parameters), {STEPS} AdamW steps of "
          f"{BATCH} rows, block {BLOCK}, {len(texts)} texts from {source}:\n")
    print("| batching | non-padding tokens | real tokens/s |\n| --- | --- | --- |")
    print(f"| packed blocks | {packing['packed_non_padding']:.1%} | {packing['packed_tokens_per_s']:,.0f} |")
    print(f"| one text per row, padded (baseline) | {packing['padded_non_padding']:.1%} | {packing['padded_tokens_per_s']:,.0f} |")
    print(f"\nPacking / padding: **{packing['ratio']:.2f}x** real tokens per second.\n")
    print(f"Generation, tiny-qwen2 ({generation['parameters']:,} parameters), {generation['prompts']} prompts, "
          "greedy, batch 16, up to 32 new tokens:\n")
    print("| backend | generated tokens/s |\n| --- | --- |")
    print(f"| transformers generate (baseline) | {generation['hf_tokens_per_s']:,.0f} |")
    print(f"| CTranslate2 Generator | {generation['ct2_tokens_per_s']:,.0f} |")
    print(f"\nCTranslate2 / generate: **{generation['ratio']:.2f}x**; identical outputs: "
          f"{generation['identical']:.0%}.")


if __name__ == "__main__":
    main()
