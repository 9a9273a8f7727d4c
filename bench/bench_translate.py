"""Translation throughput and fidelity: augkit translate (CTranslate2) against Hugging Face `generate`.

    .venv/bin/python bench/bench_translate.py                       # CPU: float32 and int8
    .venv/bin/python bench/bench_translate.py --device cuda --quantizations float32,float16,int8_float16 \\
        --sentences 2000 --hf-dtypes float32,float16                # GPU (bench/gpu_translate.sh)

Everything is built here, seeded, without downloads:
1. speed: a random-weight Marian model (~55M parameters: d_model 512, 6+6 layers, FFN 2048, a 12k
   SentencePiece vocabulary trained on a synthetic corpus); the same inputs, greedy, the same
   length limit per batch, decoded by HF `generate` (batches of --hf-batch sentences sorted by length)
   and by `augment.translate` for each quantization; target tokens per second, and the share of
   sentences where the float32 outputs are identical;
2. quantization quality: a small model trained here to reverse digit strings; chrF of its float32 and
   int8 outputs against the references;
3. memory: resident memory while `translate_records` streams a growing corpus through the trained model.
Writes results.json and results.md to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from augment.translate import Decoding, Translator  # noqa: E402
from augment.translate.stream import translate_records  # noqa: E402
from finetune.seq2seq import Seq2SeqConfig, new_marian, train_seq2seq, train_tokenizer  # noqa: E402


def synthetic_sentences(count: int, seed: int, lexicon_size: int = 20000) -> list[str]:
    """Zipf-distributed pseudo-words, 6-40 per sentence."""
    rng = random.Random(seed)
    syllables = [a + b for a in "bcdfghjklmnpqrstvxz" for b in ["a", "e", "i", "o", "u", "ie", "ew"]]
    lexicon = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(lexicon_size)]
    weights = [1 / (rank + 1) for rank in range(lexicon_size)]
    return [" ".join(rng.choices(lexicon, weights, k=rng.randint(6, 40))) + "." for _ in range(count)]


def build_speed_model(work: Path) -> tuple[Path, int]:
    from transformers import MarianTokenizer

    model_dir = work / "marian-55m"
    train_tokenizer(synthetic_sentences(20000, seed=1), model_dir, vocab_size=12000)
    tokenizer = MarianTokenizer.from_pretrained(str(model_dir))
    model = new_marian(tokenizer, d_model=512, layers=6, heads=8, ffn_dim=2048, seed=0)
    model.save_pretrained(str(model_dir))
    return model_dir, sum(p.numel() for p in model.parameters())


def hf_generate(model_dir: Path, texts: list[str], device: str, dtype: str, batch_size: int,
                decoding: Decoding) -> tuple[dict[str, str], int, float]:
    import torch
    from transformers import MarianMTModel, MarianTokenizer

    tokenizer = MarianTokenizer.from_pretrained(str(model_dir))
    model = MarianMTModel.from_pretrained(str(model_dir), dtype=getattr(torch, dtype)).to(device).eval()
    ordered = sorted(set(texts), key=lambda text: len(tokenizer(text)["input_ids"]))
    outputs, tokens = {}, 0
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for start in range(0, len(ordered), batch_size):
        batch = ordered[start:start + batch_size]
        inputs = tokenizer(batch, return_tensors="pt", padding=True).to(device)
        limit = decoding.max_decoding_length(inputs["input_ids"].shape[1])  # the same for every batch here
        with torch.no_grad():
            generated = model.generate(**inputs, num_beams=1, do_sample=False, max_new_tokens=limit)
        generated = generated[:, 1:].cpu()  # drop the decoder start token
        tokens += int((generated != tokenizer.pad_token_id).sum())
        outputs.update(zip(batch, tokenizer.batch_decode(generated, skip_special_tokens=True), strict=True))
    if device == "cuda":
        torch.cuda.synchronize()
    return {text: output.strip() for text, output in outputs.items()}, tokens, time.perf_counter() - started


def augkit_translate(model_dir: Path, texts: list[str], device: str, quantization: str, cache: Path,
                     decoding: Decoding, threads: int, max_batch_tokens: int) -> tuple[dict[str, str], int, float, float]:
    started = time.perf_counter()
    translator = Translator(str(model_dir), "en", "mt", quantization=quantization, device=device, cache=cache,
                            translation_cache=False, decoding=decoding, max_batch_tokens=max_batch_tokens,
                            intra_threads=threads if device == "cpu" else 0)
    load_seconds = time.perf_counter() - started
    records = [{"id": str(i), "text": text} for i, text in enumerate(texts)]
    started = time.perf_counter()
    outputs = {record["text"]: output["text"]
               for record, (output, _) in zip(records, translate_records(records, translator, filters=[],
                                                                          split_sentences=False), strict=True)}
    seconds = time.perf_counter() - started
    return outputs, translator.stats.target_tokens, seconds, load_seconds


def reversal_pairs(count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        digits = [str(rng.randrange(10)) for _ in range(rng.randint(3, 6))]
        pairs.append((" ".join(digits), " ".join(reversed(digits))))
    return pairs


def quantization_quality(work: Path, cache: Path, device: str, quantizations: list[str], steps: int) -> dict:
    import sacrebleu

    model_dir = train_seq2seq(reversal_pairs(4000, seed=0), work / "reversal",
                              Seq2SeqConfig(steps=steps, max_seconds=None, learning_rate=3e-3))
    test = reversal_pairs(500, seed=99)
    scores = {}
    for quantization in quantizations:
        translator = Translator(str(model_dir), "en", "mt", quantization=quantization, device=device, cache=cache,
                                translation_cache=False, decoding=Decoding(beam_size=4), intra_threads=1)
        outputs = translator.translate([source for source, _ in test])
        hypotheses = [outputs[source][0] for source, _ in test]
        scores[quantization] = {
            "chrf": round(sacrebleu.corpus_chrf(hypotheses, [[target for _, target in test]]).score, 2),
            "exact": round(sum(h == t for h, (_, t) in zip(hypotheses, test, strict=True)) / len(test), 4),
        }
    return {"model": "Marian d64 2+2 layers, trained to reverse 3-6 digit strings", "steps": steps,
            "test_sentences": len(test), "scores": scores}


def resident_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def memory_profile(model_dir: Path, cache: Path, device: str, records: int) -> dict:
    translator = Translator(str(model_dir), "en", "mt", quantization="int8", device=device, cache=cache,
                            translation_cache=cache / "memory.sqlite", decoding=Decoding(beam_size=1), intra_threads=1)
    rng = random.Random(5)
    corpus = ({"id": str(i), "text": " ".join(str(rng.randrange(10)) for _ in range(rng.randint(3, 6)))}
              for i in range(records))
    samples = {}
    for index, _ in enumerate(translate_records(corpus, translator, filters=[], window=500), 1):
        if index % (records // 10) == 0:
            samples[index] = round(resident_mib(), 1)
    translator.close()
    return {"records": records, "window": 500, "rss_mib_after_records": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--quantizations", default="float32,int8")
    parser.add_argument("--hf-dtypes", default="float32", help="HF baselines, e.g. float32,float16 on GPU")
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--hf-batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="speed runs per system; the best counts")
    parser.add_argument("--decode-tokens", type=int, default=64, help="tokens decoded per sentence")
    parser.add_argument("--max-batch-tokens", type=int, default=4096,
                        help="as `augkit translate --max-batch-tokens` (its default too)")
    parser.add_argument("--reversal-steps", type=int, default=700)
    parser.add_argument("--memory-records", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for both systems (1 by default: on a shared machine more threads measure "
                             "the neighbours, not the code)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "out/bench_translate")))
    args = parser.parse_args()

    import ctranslate2
    import torch
    import transformers

    threads = args.threads
    torch.set_num_threads(threads)
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench_translate."))
    cache = work / "cache"
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {threads} thread(s) per system"
                   + (f", {torch.cuda.get_device_name(0)}" if args.device == "cuda" else ", no GPU used"),
        "versions": {"ctranslate2": ctranslate2.__version__, "torch": torch.__version__,
                     "transformers": transformers.__version__},
        "command": " ".join(sys.argv),
    }
    model_dir, parameters = build_speed_model(work)
    texts = synthetic_sentences(args.sentences, seed=42)
    # A random model never ends a sentence, and the default length budget depends on the batch, whose
    # composition differs between the two systems; a fixed budget gives both the same work per sentence.
    decoding = Decoding(beam_size=1, max_length_ratio=1e-6, max_length_extra=args.decode_tokens)
    results["speed_model"] = {"architecture": "Marian, d_model 512, 6+6 layers, FFN 2048, vocab 12k, random weights",
                              "parameters": parameters, "sentences": len(texts), "decoding": "greedy",
                              "repeats": f"best of {args.repeats}, systems taking turns",
                              "max_decoding_length": f"{args.decode_tokens} tokens per sentence"}
    # Best of --repeats runs, the systems taking turns, so that a busy neighbour slows both alike.
    speed = {}
    baseline_outputs = {}
    dtypes, quantizations = args.hf_dtypes.split(","), args.quantizations.split(",")
    for _ in range(args.repeats):
        for dtype in dtypes:
            outputs, tokens, seconds = hf_generate(model_dir, texts, args.device, dtype, args.hf_batch, decoding)
            baseline_outputs[dtype] = outputs
            best = speed.get(f"hf_generate_{dtype}", {}).get("seconds", float("inf"))
            if seconds < best:
                speed[f"hf_generate_{dtype}"] = {"target_tokens": tokens, "seconds": round(seconds, 2),
                                                 "tokens_per_second": round(tokens / seconds, 1)}
        reference = baseline_outputs.get("float32") or baseline_outputs[dtypes[0]]
        for quantization in quantizations:
            try:
                outputs, tokens, seconds, load = augkit_translate(model_dir, texts, args.device, quantization, cache,
                                                                  decoding, threads, args.max_batch_tokens)
            except Exception as error:  # e.g. a CTranslate2 wheel built for another CUDA than the machine's
                speed[f"augkit_{quantization}"] = {"error": f"{type(error).__name__}: {error}"}
                continue
            best = speed.get(f"augkit_{quantization}", {}).get("seconds", float("inf"))
            if seconds < best:
                speed[f"augkit_{quantization}"] = {
                    "target_tokens": tokens, "seconds": round(seconds, 2), "tokens_per_second": round(tokens / seconds, 1),
                    "identical_to_hf_float32": round(sum(outputs[t] == reference[t] for t in texts) / len(texts), 4),
                    "convert_and_load_seconds": round(load, 1)}
        print({name: row.get("tokens_per_second", row.get("error")) for name, row in speed.items()}, flush=True)
    base_rate = speed[f"hf_generate_{dtypes[0]}"]["tokens_per_second"]
    for row in speed.values():
        if "error" not in row:
            row["speedup_vs_hf"] = round(row["tokens_per_second"] / base_rate, 2)
    results["speed"] = speed
    try:
        results["quantization_quality"] = quantization_quality(
            work, cache, args.device, ["float32", *[q for q in quantizations if q != "float32"]], args.reversal_steps)
        results["memory"] = memory_profile(work / "reversal", cache, args.device, args.memory_records)
    except Exception as error:  # keep the speed results when CTranslate2 cannot run here
        results["error"] = f"{type(error).__name__}: {error}"
    print({key: results.get(key) for key in ("quantization_quality", "memory", "error")}, flush=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (args.out / "results.md").write_text(markdown(results), encoding="utf-8")
    print(markdown(results))


def markdown(results: dict) -> str:
    lines = [f"Command: `{results['command']}` — {results['date']}, {results['machine']}; "
             f"versions {results['versions']}.",
             f"Speed model: {results['speed_model']['architecture']} ({results['speed_model']['parameters'] / 1e6:.1f}M "
             f"parameters), {results['speed_model']['sentences']} sentences, greedy, "
             f"{results['speed_model']['max_decoding_length']}, {results['speed_model']['repeats']}.", "",
             "| system | target tokens | seconds | tokens/s | vs HF | identical to HF float32 |", "|---|---|---|---|---|---|"]
    for name, row in results["speed"].items():
        if "error" in row:
            lines.append(f"| {name} | failed: {row['error']} | | | | |")
            continue
        lines.append(f"| {name} | {row['target_tokens']} | {row['seconds']} | {row['tokens_per_second']} | "
                     f"{row.get('speedup_vs_hf', 1.0)}x | {row.get('identical_to_hf_float32', '-')} |")
    if "error" in results:
        return "\n".join([*lines, "", f"Quantization quality and memory not measured: {results['error']}", ""])
    quality = results["quantization_quality"]
    lines += ["", f"Quantization quality ({quality['model']}, {quality['steps']} steps, {quality['test_sentences']} "
                  f"test sentences, beam 4): " + "; ".join(f"{q}: chrF {s['chrf']}, exact {s['exact']:.1%}"
                                                           for q, s in quality['scores'].items()),
              f"Memory while streaming {results['memory']['records']} records (window {results['memory']['window']}), "
              f"RSS MiB after N records: {results['memory']['rss_mib_after_records']}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
