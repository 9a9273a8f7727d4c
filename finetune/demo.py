"""The chain of `augkit demo` (`make demo`): bundled samples -> corpus -> tiny model, adapted and measured.

    report = run_chain(DemoSettings(output=Path("runs/demo")))

Steps, each an augkit command run in process through `augment.cli.main` (the code path a user
types), except the two that have no command of their own (the MT training pairs, the untrained
model):

1. MT model: a tiny Marian model (`finetune.seq2seq`) trained to map the Arabic sample's words and
   sentences to their CharTx transliteration. There is no Arabic-Maltese bitext in the repository,
   so the demo's "translation" is a learned imitation of CharTx: it exercises the translate stage
   (CTranslate2 conversion, decoding, output filters, rejects) honestly, without pretending to add
   knowledge.
2. `augkit build corpora/recipes/demo-chain.yaml`: normalise, language-ID, deduplicate,
   transliterate (CharTx, MorphTx), translate (step 1's model), split, mix, format CPT and SFT.
3. An untrained `tiny-qwen2` (tokenizer trained on the corpus), the "before" of every comparison.
4. `augkit cpt` on the CPT text; 5. `augkit sft` on the ar->mt instructions.
6. `augkit evaluate`: perplexity and bits per character of untrained vs CPT on the test text;
   chrF and BLEU of CPT vs SFT on the test instructions.
7. `augkit layers`: untrained -> CPT and CPT -> SFT; `augkit abx`, untrained and CPT: how well each
   layer tells Maltese from the Arabic sample (script, CharTx, MorphTx) in form.

Each step's folder holds `demo-step.json` with the fingerprint of its inputs and settings; a
rerun skips a step whose fingerprint is unchanged (the build has its own stage cache).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from augment.errors import AugkitError

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "corpora" / "recipes" / "demo-chain.yaml"
SAMPLE = ROOT / "corpora" / "samples" / "ar_sample.txt"
MALTESE_SAMPLE = ROOT / "corpora" / "samples" / "mt_sample.txt"
TINY = {"vocab_size": 600, "hidden_size": 64, "intermediate_size": 192, "num_hidden_layers": 2}


@dataclass(frozen=True)
class DemoSettings:
    output: Path = Path("runs/demo")
    mt_steps: int = 400
    cpt_steps: int = 200
    sft_steps: int = 120
    max_new_tokens: int = 96
    threads: int = 1  # tiny models gain nothing from more; 2 threads on a busy machine are 7x slower
    seed: int = 13

    @classmethod
    def quick(cls, output: Path, threads: int = 1) -> DemoSettings:
        """The CI setting: the same chain with a fraction of the training steps."""
        return cls(output=output, mt_steps=150, cpt_steps=30, sft_steps=20, max_new_tokens=32, threads=threads)


def run_chain(settings: DemoSettings, out: TextIO = sys.stdout) -> dict[str, Any]:
    import warnings

    import torch

    torch.set_num_threads(settings.threads)
    # MarianTokenizer's advice concerns Moses pre-tokenisation, which the demo's model does not use.
    warnings.filterwarnings("ignore", message="Recommended: pip install sacremoses")
    output = settings.output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    paths = {name: output / name for name in ("mt-model", "build", "init", "cpt", "sft", "eval-lm", "eval-mt",
                                               "layers-cpt", "layers-sft", "abx-init", "abx-cpt")}
    steps = 7

    def step(number: int, title: str) -> None:
        print(f"\n[{number}/{steps}] {title}", file=out, flush=True)

    step(1, "training the tiny Arabic -> Maltese-orthography MT model (CTranslate2-ready Marian)")
    with _timer(timings, "mt"):
        pairs = mt_pairs(SAMPLE)
        _cached(paths["mt-model"], {"pairs": pairs, "steps": settings.mt_steps, "seed": settings.seed}, out,
                lambda: _train_mt(pairs, paths["mt-model"], settings, out))

    step(2, f"building the corpus: augkit build {RECIPE.relative_to(ROOT)}")
    with _timer(timings, "build"):
        os.environ["AUGKIT_DEMO_MT_MODEL"] = str(paths["mt-model"])
        _cli("build", str(RECIPE), "--output", str(paths["build"]))
    manifest = json.loads((paths["build"] / "manifest.json").read_text(encoding="utf-8"))
    cpt_data, sft_data = paths["build"] / "cpt", paths["build"] / "sft"
    corpus = {"cpt": _fingerprint_dir(cpt_data), "sft": _fingerprint_dir(sft_data)}

    step(3, "an untrained tiny-qwen2 (tokenizer trained on the corpus): the 'before' model")
    with _timer(timings, "init"):
        _cached(paths["init"], {"corpus": corpus, "tiny": TINY, "seed": settings.seed}, out,
                lambda: _untrained_model(cpt_data, sft_data, paths["init"], settings.seed, out))

    training = ["--seed", str(settings.seed), "--threads", str(settings.threads), "--batch-size", "8",
                "--block-size", "128"]
    step(4, f"continual pre-training: augkit cpt ({settings.cpt_steps} steps)")
    with _timer(timings, "cpt"):
        _cached(paths["cpt"], {"corpus": corpus["cpt"], "init": _fingerprint_dir(paths["init"], "*.safetensors"),
                               "steps": settings.cpt_steps, "options": training}, out,
                lambda: _cli("cpt", "--model", str(paths["init"]), "--data", f"{cpt_data}:train",
                             "--eval-data", f"{cpt_data}:dev", "--output", str(paths["cpt"]), "--lr", "3e-3",
                             "--max-steps", str(settings.cpt_steps), "--eval-every", str(max(1, settings.cpt_steps // 2)),
                             *training))

    step(5, f"supervised fine-tuning on ar->mt instructions: augkit sft ({settings.sft_steps} steps)")
    with _timer(timings, "sft"):
        _cached(paths["sft"], {"corpus": corpus["sft"], "cpt": _fingerprint_dir(paths["cpt"], "*.safetensors"),
                               "steps": settings.sft_steps, "options": training}, out,
                lambda: _cli("sft", "--model", str(paths["cpt"]), "--data", f"{sft_data}:train",
                             "--eval-data", f"{sft_data}:dev", "--output", str(paths["sft"]), "--lr", "2e-3",
                             "--max-steps", str(settings.sft_steps), "--eval-every", str(max(1, settings.sft_steps // 2)),
                             *training))

    step(6, "evaluation: augkit evaluate (perplexity, bits per character; chrF, BLEU)")
    models = {name: _fingerprint_dir(paths[name], "*.safetensors") for name in ("init", "cpt", "sft")}
    with _timer(timings, "evaluate"):
        threads = ["--threads", str(settings.threads)]
        _cached(paths["eval-lm"], {"models": models, "corpus": corpus["cpt"]}, out,
                lambda: _cli("evaluate", "--base", str(paths["init"]), "--model", str(paths["cpt"]),
                             "--data", f"{cpt_data}:test", "--metrics", "ppl,bpc", "--output", str(paths["eval-lm"]),
                             *threads))
        _cached(paths["eval-mt"], {"models": models, "corpus": corpus["sft"], "tokens": settings.max_new_tokens}, out,
                lambda: _cli("evaluate", "--base", str(paths["cpt"]), "--model", str(paths["sft"]),
                             "--data", f"{sft_data}:test", "--metrics", "chrf,bleu", "--source-field", "prompt",
                             "--target-field", "response", "--target-lang", "mt",
                             "--max-new-tokens", str(settings.max_new_tokens), "--output", str(paths["eval-mt"]),
                             *threads))

    step(7, "layer-wise analysis: augkit layers (untrained -> CPT, CPT -> SFT), augkit abx (untrained, CPT)")
    with _timer(timings, "layers"):
        for before, after, folder in (("init", "cpt", "layers-cpt"), ("cpt", "sft", "layers-sft")):
            _cached(paths[folder], {"base": models[before], "adapted": models[after]}, out,
                    lambda before=before, after=after, folder=folder: _cli(
                        "layers", "--base", str(paths[before]), "--adapted", str(paths[after]),
                        "--output", str(paths[folder])))
        abx = ["--monolingual", f"mt={MALTESE_SAMPLE}", "--parallel", f"ar={SAMPLE}", "--derive", "ar+chartx",
               "--derive", "ar+morphtx", "--pairs", "mt:ar,mt:ar+chartx,mt:ar+morphtx", "--target", "mt",
               "--triplets", "5", "--seed", str(settings.seed), "--threads", str(settings.threads)]
        for name in ("init", "cpt"):
            _cached(paths[f"abx-{name}"], {"model": models[name], "options": abx}, out,
                    lambda name=name: _cli("abx", "--model", str(paths[name]), *abx, "--output", str(paths[f"abx-{name}"])))

    timings["total"] = time.perf_counter() - started
    result = {"manifest": manifest, "paths": {k: str(v) for k, v in paths.items()}, "timings": timings,
              "settings": {**asdict(settings), "output": str(settings.output)}}
    (output / "demo-report.json").write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n",
                                             encoding="utf-8")
    print(final_report(paths, manifest, timings), file=out)
    return result


def mt_pairs(sample: Path) -> list[tuple[str, str]]:
    """(Arabic, CharTx) for every distinct word and every line of the sample, in first-seen order."""
    from augment import formats
    from augment.transliterate import Transliterator

    chartx = Transliterator("chartx", normalize="arabic")
    lines = [line for line in formats.read_lines(sample) if line.strip()]
    words = list(dict.fromkeys(word for line in lines for word in line.split()))
    sources = words + lines
    return list(zip(sources, chartx.transliterate_many(sources), strict=True))


def abx_line(paths: dict[str, Path]) -> str:
    """`ar+morphtx 0.62 -> 0.55, ...`: each language's form score against Maltese, untrained and after CPT."""
    scores = {}
    for name in ("abx-init", "abx-cpt"):
        document = json.loads((paths[name] / "abx.json").read_text(encoding="utf-8"))
        last = document["layers"] - 1
        scores[name] = {row["l2"]: row["score"] for row in document["rows"] if row["layer"] == last}
    return ", ".join(f"{language} {scores['abx-init'][language]:.2f} -> {score:.2f}"
                     for language, score in sorted(scores["abx-cpt"].items(), key=lambda item: item[1]))


def mt_agreement(sft_data: Path) -> float:
    """chrF of the MT model's outputs (the SFT responses) against CharTx of the same Arabic lines."""
    import sacrebleu

    from augment.transliterate import Transliterator

    records = [json.loads(line) for path in sorted(sft_data.glob("*.jsonl"))
               for line in path.read_text(encoding="utf-8").splitlines()]
    sources = [record["meta"]["translation"]["source"] for record in records]
    references = Transliterator("chartx", normalize="arabic").transliterate_many(sources)
    return sacrebleu.corpus_chrf([record["response"] for record in records], [references]).score


# --- steps without a command of their own ---------------------------------------------------------

def _train_mt(pairs: list[tuple[str, str]], output: Path, settings: DemoSettings, out: TextIO) -> None:
    from finetune.seq2seq import Seq2SeqConfig, train_seq2seq

    train_seq2seq(pairs, output, Seq2SeqConfig(vocab_size=300, steps=settings.mt_steps, max_seconds=None,
                                               batch_size=32, threads=settings.threads, seed=settings.seed))
    print(f"  {len(pairs)} pairs (Arabic word or line -> CharTx), {settings.mt_steps} steps -> {output}", file=out)


def _untrained_model(cpt_data: Path, sft_data: Path, output: Path, seed: int, out: TextIO) -> None:
    from finetune import data, models

    texts = data.texts_of(data.load_records(f"{cpt_data}:train"))
    for record in data.load_records(f"{sft_data}:train"):
        texts += [record.record["prompt"], record.record["response"]]
    model, tokenizer = models.load_model("tiny-qwen2", "causal-lm", texts=texts, tiny=TINY, seed=seed)
    models.save_model(model, tokenizer, output, metadata={"made_by": "augkit demo", "untrained": True, "tiny": TINY})
    print(f"  tiny-qwen2, {models.count_parameters(model):,} parameters, vocabulary {len(tokenizer)} -> {output}", file=out)


# --- caching, commands, timing --------------------------------------------------------------------

def _cached(folder: Path, inputs: dict[str, Any], out: TextIO, make) -> None:
    """Run `make` unless `folder` was made from the same inputs (fingerprint in demo-step.json)."""
    fingerprint = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:16]
    stamp = folder / "demo-step.json"
    if stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")).get("fingerprint") == fingerprint:
        print(f"  up to date ({folder}, fingerprint {fingerprint}): skipped", file=out)
        return
    make()
    folder.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"fingerprint": fingerprint}) + "\n", encoding="utf-8")


def _cli(*argv: str) -> None:
    """One augkit command, in process, printed as a user would type it."""
    from augment.cli import main

    print("  $ augkit " + " ".join(argv), flush=True)
    code = main(list(argv))
    if code != 0:
        raise AugkitError(f"augkit {argv[0]} stopped with exit code {code} (its message is above)")


def _fingerprint_dir(folder: Path, pattern: str = "*") -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.glob(pattern) if p.is_file() and p.name != "demo-step.json"):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


class _timer:
    def __init__(self, timings: dict[str, float], name: str):
        self.timings, self.name = timings, name

    def __enter__(self):
        self.started = time.perf_counter()

    def __exit__(self, *exc):
        self.timings[self.name] = time.perf_counter() - self.started


# --- the report -----------------------------------------------------------------------------------

def final_report(paths: dict[str, Path], manifest: dict, timings: dict[str, float]) -> str:
    cpt = json.loads((paths["cpt"] / "report.json").read_text(encoding="utf-8"))
    sft = json.loads((paths["sft"] / "report.json").read_text(encoding="utf-8"))
    lm = json.loads((paths["eval-lm"] / "evaluation.json").read_text(encoding="utf-8"))["models"]
    mt = json.loads((paths["eval-mt"] / "evaluation.json").read_text(encoding="utf-8"))["models"]
    lines = ["", "=" * 78, "augkit demo: report", "=" * 78, "", "Built (manifest):"]
    for stage in manifest["stages"]:
        reasons = ", ".join(f"{reason} {count}" for reason, count in stage["dropped_by_reason"].items())
        lines.append(f"  {stage['stage']:<15} in {stage['in']:>4}  out {stage['out']:>4}  dropped {stage['dropped']:>3}"
                     + (f"  ({reasons})" if reasons else ""))
    lines += ["", "Trained:",
              f"  MT    tiny Marian imitating CharTx: chrF {mt_agreement(paths['build'] / 'sft'):.1f} against CharTx "
              f"on the sample  {paths['mt-model']}",
              f"  CPT   tiny-qwen2, {cpt['parameters']:,} parameters, {cpt['steps']} steps, "
              f"{cpt['tokens_trained']:,} tokens  {paths['cpt']}",
              f"  SFT   from CPT, {sft['train_examples']} ar->mt examples, {sft['steps']} steps  {paths['sft']}",
              "", "Before -> after (held-out test split):"]
    before, after = lm["base"]["language_model"], lm["adapted"]["language_model"]
    lines += [f"  perplexity (token)     untrained {before['ppl']:>9.2f}  ->  CPT {after['ppl']:>9.2f}",
              f"  bits per character     untrained {before['bpc']:>9.3f}  ->  CPT {after['bpc']:>9.3f}"]
    for key, name in (("chrf", "chrF"), ("bleu", "BLEU")):
        lines.append(f"  ar->mt {name:<16} CPT       {mt['base']['translation'][key]['score']:>9.2f}  ->  "
                     f"SFT {mt['adapted']['translation'][key]['score']:>9.2f}")
    lines += ["", "Layers (where the weights changed most):"]
    for folder, label in (("layers-cpt", "untrained -> CPT"), ("layers-sft", "CPT -> SFT")):
        summary = (paths[folder] / "layers_summary.txt").read_text(encoding="utf-8").splitlines()
        headline = [line for line in summary if line.startswith(("Embeddings and output head", "Most changed"))]
        lines.append(f"  {label:<17} " + " ".join(headline))
    lines.append("  ABX form vs Maltese, last layer (0.5 = cannot tell apart), untrained -> CPT: " + abx_line(paths))
    lines += ["", "Artefacts:"]
    lines += [f"  corpus       {paths['build']}  (cpt/, sft/, manifest.json, rejected/, README.md)",
              f"  evaluation   {paths['eval-lm'] / 'evaluation.md'}, {paths['eval-mt'] / 'evaluation.md'}",
              f"  layers       {paths['layers-cpt']}, {paths['layers-sft']} (CSV, heatmap, per-depth plot)",
              f"  abx          {paths['abx-init']}, {paths['abx-cpt']} (CSV, plot, summary)",
              f"  this report  {paths['build'].parent / 'demo-report.json'}",
              "", "Time: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())]
    return "\n".join(lines)
