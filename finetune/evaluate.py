"""Evaluate causal LMs: perplexity and bits per character/byte, translation BLEU / chrF / chrF++.

`augkit evaluate --model M [--base B] --data D --metrics ppl,bpc,bleu,chrf,chrf++`

Language modelling (`ppl`, `bpc`, `bpb`; all three come from one pass): each text is scored after
an end-of-text token (so its first token is predicted too) with a sliding window of `window`
tokens moving by `stride`; every token is predicted exactly once, with at least `window - stride`
tokens of context once the text is longer than the window. Token perplexity depends on the
tokenizer; bits per character (of the NFC text) and per UTF-8 byte do not, so they compare models
whose tokenizers differ (the Tibetan study extends the tokenizer).

Translation (`bleu`, `chrf`, `chrf++`): the model is given `prompt_template` around each source,
formatted with its chat template (see finetune.sft), decodes greedily (or with `beam_size`) up to
`max_new_tokens`, through Hugging Face `generate` or CTranslate2's Generator (the model converted
on the fly; same decoding settings). BLEU's tokenizer suits the target language: Tibetan is split
into syllables at the tsheg (shad and other marks become tokens) and scored with `tok:none`
(the signature says `pretok:tibetan-syllables`); Chinese uses `zh`; everything else `13a`.
chrF++ on Tibetan uses the same syllables as words. Every score carries its sacrebleu signature.

With `--base`, both models are evaluated on the same data and written side by side
(`evaluation.json`, `evaluation.md`), with the hypotheses of each model in `hypotheses_*.jsonl`.

With `train_data` (`--train-data`), the report also says how many of the evaluated references,
sources and scored texts occur in the training data (exactly, after the normalisation of the
held-out split: NFKC, case-folded, whitespace collapsed), so a score on memorised text shows.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from augment.errors import AugkitError, InputError

LM_METRICS = ("ppl", "bpc", "bpb")
TRANSLATION_METRICS = ("bleu", "chrf", "chrf++")
METRICS = LM_METRICS + TRANSLATION_METRICS

_TSHEG = re.compile(r"[\u0F0B\u0F0C]+")  # intersyllabic marks (tsheg, non-breaking tsheg)
_TIBETAN_MARKS = re.compile(r"([\u0F04-\u0F0A\u0F0D-\u0F14])")  # shad, head marks: tokens of their own


def tibetan_syllables(text: str) -> str:
    """`བཀྲ་ཤིས་བདེ་ལེགས།` -> `བཀྲ ཤིས བདེ ལེགས །`: syllables and marks separated by single spaces."""
    text = _TIBETAN_MARKS.sub(r" \1 ", _TSHEG.sub(" ", text))
    return " ".join(text.split())


@dataclass(frozen=True)
class Decoding:
    max_new_tokens: int = 64
    beam_size: int = 1
    batch_size: int = 16

    def signature(self) -> str:
        return f"greedy:{self.beam_size == 1}|beam:{self.beam_size}|max_new:{self.max_new_tokens}"


# --- language modelling ----------------------------------------------------------------------------

def language_model_scores(model, tokenizer, texts: Sequence[str], window: int = 512, stride: int | None = None,
                          batch_size: int = 8) -> dict[str, float]:
    """Token perplexity, bits per character and per byte of `texts` (see the module docstring)."""
    import torch

    stride = stride or window // 2
    if not 0 < stride <= window - 1:
        raise AugkitError(f"stride must be between 1 and window - 1 ({window - 1}), got {stride}")
    start_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.cls_token_id
    pieces = []  # (input ids, number of final positions that are scored)
    total_tokens = total_chars = total_bytes = 0
    for text, ids in zip(texts, tokenizer(list(texts), add_special_tokens=False)["input_ids"], strict=True):
        normalised = unicodedata.normalize("NFC", text)
        total_chars += len(normalised)
        total_bytes += len(normalised.encode("utf-8"))
        total_tokens += len(ids)
        sequence = [start_id] + ids
        scored_until = 1  # position 0 (the start token) is context only
        while scored_until < len(sequence):
            end = min(scored_until + stride if scored_until > 1 else window, len(sequence))
            begin = max(0, end - window)
            pieces.append((sequence[begin:end], end - scored_until))
            scored_until = end
    device = next(model.parameters()).device
    nll = 0.0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(pieces), batch_size):
            batch = pieces[start:start + batch_size]
            width = max(len(ids) for ids, _ in batch)
            input_ids = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long)
            attention = torch.zeros((len(batch), width), dtype=torch.long)
            labels = torch.full((len(batch), width), -100, dtype=torch.long)
            for row, (ids, scored) in enumerate(batch):
                input_ids[row, :len(ids)] = torch.tensor(ids)
                attention[row, :len(ids)] = 1
                labels[row, len(ids) - scored:len(ids)] = torch.tensor(ids[len(ids) - scored:])
            logits = model(input_ids=input_ids.to(device), attention_mask=attention.to(device)).logits.float()
            shifted_logits, shifted_labels = logits[:, :-1], labels[:, 1:].to(device)
            nll += torch.nn.functional.cross_entropy(
                shifted_logits.reshape(-1, shifted_logits.size(-1)), shifted_labels.reshape(-1),
                ignore_index=-100, reduction="sum").item()
    if total_tokens == 0:
        raise AugkitError("no tokens to score")
    bits = nll / math.log(2)
    return {
        "ppl": math.exp(nll / total_tokens),
        "bpc": bits / total_chars,
        "bpb": bits / total_bytes,
        "nll_nats": nll,
        "tokens": total_tokens,
        "characters": total_chars,
        "bytes": total_bytes,
        "tokens_per_character": total_tokens / total_chars,
        "window": window,
        "stride": stride,
    }


# --- translation ---------------------------------------------------------------------------------

def generate(model, tokenizer, prompts: Sequence[str], decoding: Decoding, backend: str = "hf",
             model_dir: str | Path | None = None) -> list[str]:
    """One decoded continuation per prompt (already formatted), through `hf` generate or `ct2`."""
    from finetune.sft import stop_token_ids

    stops = stop_token_ids(tokenizer)
    encoded = [tokenizer(prompt, add_special_tokens=False)["input_ids"] for prompt in prompts]
    if backend == "ct2":
        generator = ctranslate2_generator(model_dir)
        outputs = []
        for start in range(0, len(encoded), decoding.batch_size):
            batch = [tokenizer.convert_ids_to_tokens(ids) for ids in encoded[start:start + decoding.batch_size]]
            results = generator.generate_batch(
                batch, max_length=decoding.max_new_tokens, beam_size=decoding.beam_size, sampling_topk=1,
                include_prompt_in_result=False, end_token=[tokenizer.convert_ids_to_tokens(i) for i in stops],
            )
            outputs.extend(result.sequences_ids[0] for result in results)
    elif backend == "hf":
        import torch

        device = next(model.parameters()).device
        model.eval()
        outputs = []
        for start in range(0, len(encoded), decoding.batch_size):
            batch = encoded[start:start + decoding.batch_size]
            width = max(len(ids) for ids in batch)
            # Left padding, so every prompt ends where generation starts.
            input_ids = torch.tensor([[tokenizer.pad_token_id] * (width - len(ids)) + ids for ids in batch])
            attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch])
            with torch.no_grad():
                generated = model.generate(
                    input_ids=input_ids.to(device), attention_mask=attention.to(device), do_sample=False,
                    num_beams=decoding.beam_size, max_new_tokens=decoding.max_new_tokens, eos_token_id=stops,
                    pad_token_id=tokenizer.pad_token_id,
                )
            for row in generated[:, width:].tolist():
                cut = next((i for i, token in enumerate(row) if token in stops), len(row))
                outputs.append(row[:cut])
    else:
        raise AugkitError(f"unknown generation backend {backend!r}; use hf or ct2")
    return [tokenizer.decode([t for t in ids if t not in stops], skip_special_tokens=True).strip()
            for ids in outputs]


def ctranslate2_generator(model_dir: str | Path | None):
    """A CTranslate2 Generator for a saved Hugging Face model, converted once into `<model>/ctranslate2`."""
    import ctranslate2
    import torch

    if model_dir is None or not Path(model_dir).is_dir():
        raise AugkitError("the ct2 backend needs a saved model directory (convert a tiny model by saving it first)")
    converted = Path(model_dir) / "ctranslate2"
    if not (converted / "model.bin").is_file():
        converter = ctranslate2.converters.TransformersConverter(str(model_dir), load_as_float16=False)
        try:
            converter.convert(str(converted), force=True)
        except (ValueError, NotImplementedError) as error:
            raise AugkitError(f"CTranslate2 cannot convert {model_dir}: {error}") from error
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return ctranslate2.Generator(str(converted), device=device, compute_type="default",
                                 inter_threads=1, intra_threads=max(1, torch.get_num_threads()))


def bleu_tokenizer(target_lang: str | None) -> tuple[str, bool]:
    """(sacrebleu tokenizer, whether to split Tibetan syllables first) for a target language."""
    from augment.languages import to_flores

    if target_lang is None:
        return "13a", False
    flores = to_flores(target_lang)
    if flores.startswith("bod_") or flores.endswith("_Tibt"):
        return "none", True
    if flores.startswith(("zho_", "cmn_", "yue_")):
        return "zh", False
    return "13a", False


def translation_scores(hypotheses: Sequence[str], references: Sequence[str], metrics: Sequence[str],
                       target_lang: str | None) -> dict[str, dict[str, Any]]:
    """sacrebleu BLEU / chrF / chrF++ with their signatures."""
    from sacrebleu.metrics import BLEU, CHRF

    tokenize, syllables = bleu_tokenizer(target_lang)
    words = (lambda texts: [tibetan_syllables(t) for t in texts]) if syllables else list
    pretok = "|pretok:tibetan-syllables" if syllables else ""
    scores = {}
    if "bleu" in metrics:
        bleu = BLEU(tokenize=tokenize)
        score = bleu.corpus_score(words(hypotheses), [words(references)])
        scores["bleu"] = {"score": score.score, "signature": str(bleu.get_signature()) + pretok}
    if "chrf" in metrics:
        chrf = CHRF()
        scores["chrf"] = {"score": chrf.corpus_score(list(hypotheses), [list(references)]).score,
                          "signature": str(chrf.get_signature())}
    if "chrf++" in metrics:
        chrf_pp = CHRF(word_order=2)
        score = chrf_pp.corpus_score(words(hypotheses), [words(references)])
        scores["chrf++"] = {"score": score.score, "signature": str(chrf_pp.get_signature()) + pretok}
    return scores


# --- the command ---------------------------------------------------------------------------------

@dataclass
class EvalSettings:
    metrics: tuple[str, ...] = ("ppl", "bpc")
    text_field: str = "text"
    source_field: str = "source"
    target_field: str = "target"
    prompt_template: str = "{prompt}"
    target_lang: str | None = None
    window: int = 512
    stride: int | None = None
    backend: str = "hf"
    decoding: Decoding = Decoding()
    limit: int | None = None  # evaluate the first N records only
    train_data: str | None = None  # count the evaluation texts that occur in it (`training_overlap`)
    txt_unit: str = "line"  # .txt data: one text per line or blank-line-separated paragraphs

    def __post_init__(self):
        unknown = sorted(set(self.metrics) - set(METRICS))
        if unknown:
            raise AugkitError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}")


def evaluate_model(model_path: str, records, settings: EvalSettings) -> tuple[dict[str, Any], list[dict]]:
    """(scores, per-record hypotheses) of one model."""
    from finetune.data import texts_of
    from finetune.models import load_model

    model, tokenizer = load_model(model_path, "causal-lm", dtype="auto")
    if next(model.parameters()).device.type == "cpu":
        import torch

        if torch.cuda.is_available():
            model = model.to("cuda")
    scores: dict[str, Any] = {}
    if set(settings.metrics) & set(LM_METRICS):
        texts = texts_of(records, settings.text_field)
        scores["language_model"] = language_model_scores(model, tokenizer, texts, settings.window, settings.stride)
    hypotheses = []
    if set(settings.metrics) & set(TRANSLATION_METRICS):
        from finetune.sft import generation_prompt

        sources, references = [], []
        for item in records:
            source, reference = item.record.get(settings.source_field), item.record.get(settings.target_field)
            if not isinstance(source, str) or not isinstance(reference, str):
                raise InputError(item.path, f"record needs string fields {settings.source_field!r} and "
                                 f"{settings.target_field!r} (fields: {', '.join(item.record)})", line=item.line)
            sources.append(source)
            references.append(reference)
        prompts = [generation_prompt(tokenizer, settings.prompt_template.replace("{prompt}", s)) for s in sources]
        outputs = generate(model, tokenizer, prompts, settings.decoding, settings.backend, model_path)
        scores["translation"] = translation_scores(outputs, references, settings.metrics, settings.target_lang)
        scores["translation"]["decoding"] = f"{settings.decoding.signature()}|backend:{settings.backend}"
        hypotheses = [{"source": s, "reference": r, "hypothesis": h} for s, r, h in zip(sources, references, outputs, strict=True)]
    return scores, hypotheses


def run(model: str, data: str, settings: EvalSettings, base: str | None = None,
        output: str | Path | None = None) -> dict[str, Any]:
    from finetune.data import load_records

    records = load_records(data, txt_unit=settings.txt_unit)[: settings.limit]
    models = {"base": base, "adapted": model} if base else {"model": model}
    report: dict[str, Any] = {"data": str(data), "records": len(records), "metrics": list(settings.metrics),
                              "models": {}}
    if settings.train_data:
        report["training_overlap"] = training_overlap(records, settings)
    for label, path in models.items():
        scores, hypotheses = evaluate_model(path, records, settings)
        report["models"][label] = {"path": path, **scores}
        if output is not None and hypotheses:
            Path(output).mkdir(parents=True, exist_ok=True)
            with open(Path(output) / f"hypotheses_{label}.jsonl", "w", encoding="utf-8") as handle:
                handle.writelines(json.dumps(h, ensure_ascii=False) + "\n" for h in hypotheses)
    if output is not None:
        Path(output).mkdir(parents=True, exist_ok=True)
        (Path(output) / "evaluation.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        (Path(output) / "evaluation.md").write_text(markdown_table(report))
    return report


TRAIN_TEXT_FIELDS = ("text", "prompt", "response", "messages", "source", "target")


def training_overlap(records, settings: EvalSettings) -> dict[str, Any]:
    """How many evaluated texts occur in `settings.train_data`: references and sources (translation
    metrics) and scored texts (language-model metrics), each {"in_train": n, "of": total}.

    The training texts are those of the usual fields (`TRAIN_TEXT_FIELDS`) and of the evaluation's
    own field names, whichever field holds them."""
    from finetune.data import TEXT_NORMALISATION, load_records, normalised_texts

    fields = tuple(dict.fromkeys((*TRAIN_TEXT_FIELDS, settings.text_field, settings.source_field,
                                  settings.target_field)))
    seen: set[str] = set()
    for item in load_records(settings.train_data, txt_unit=settings.txt_unit):
        seen |= normalised_texts(item.record, fields)

    def occurrences(field: str) -> dict[str, int]:
        texts = [normalised_texts(item.record, (field,)) for item in records]
        return {"in_train": sum(bool(found & seen) for found in texts), "of": sum(bool(found) for found in texts)}

    overlap: dict[str, Any] = {"train_data": str(settings.train_data), "normalisation": TEXT_NORMALISATION}
    if set(settings.metrics) & set(TRANSLATION_METRICS):
        overlap["references"] = occurrences(settings.target_field)
        overlap["sources"] = occurrences(settings.source_field)
    if set(settings.metrics) & set(LM_METRICS):
        overlap["texts"] = occurrences(settings.text_field)
    return overlap


def table_rows(report: dict[str, Any]) -> list[tuple[str, list[float | None]]]:
    """(metric name, value per model) in the order of the report's models."""
    rows = []
    labels = list(report["models"])
    for key, name in (("ppl", "perplexity (token)"), ("bpc", "bits per character"), ("bpb", "bits per byte")):
        if key in report["metrics"] or (key == "bpb" and "bpc" in report["metrics"]):
            rows.append((name, [report["models"][m].get("language_model", {}).get(key) for m in labels]))
    for key, name in (("bleu", "BLEU"), ("chrf", "chrF"), ("chrf++", "chrF++")):
        if key in report["metrics"]:
            rows.append((name, [report["models"][m].get("translation", {}).get(key, {}).get("score") for m in labels]))
    return rows


def markdown_table(report: dict[str, Any]) -> str:
    labels = list(report["models"])
    side_by_side = labels == ["base", "adapted"]
    header = "| metric | " + " | ".join(labels) + (" | change |" if side_by_side else " |")
    lines = [header, "|" + " --- |" * (len(labels) + 1 + side_by_side)]
    for name, values in table_rows(report):
        cells = [f"{v:.4f}" if v is not None else "-" for v in values]
        if side_by_side:
            cells.append(f"{values[1] - values[0]:+.4f}" if None not in values else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    signatures = {s["signature"] for m in report["models"].values()
                  for s in m.get("translation", {}).values() if isinstance(s, dict)}
    notes = [f"Data: `{report['data']}` ({report['records']} records)."]
    notes += [f"sacrebleu: `{signature}`" for signature in sorted(signatures)]
    decodings = {m["translation"]["decoding"] for m in report["models"].values() if "translation" in m}
    notes += [f"decoding: `{d}`" for d in sorted(decodings)]
    if "training_overlap" in report:
        overlap = report["training_overlap"]
        kinds = [kind for kind in ("references", "sources", "texts") if kind in overlap]
        found = any(overlap[kind]["in_train"] for kind in kinds)
        notes.append(f"In the training data `{overlap['train_data']}` ({overlap['normalisation']}, exact): "
                     + ", ".join(f"{overlap[kind]['in_train']} of {overlap[kind]['of']} {kind}" for kind in kinds)
                     + (" -- warning: these scores partly measure text seen in training" if found else ""))
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {note}" for note in notes) + "\n"
