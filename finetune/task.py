"""Task fine-tuning: sequence classification and token classification (UPOS tags, BIO entities).

One recipe, read top to bottom in `train_task`: load every dataset, unify the label set across all of
them, build the model, then train either once on a seeded mix of the training sets or as a cascade
(one stage per training set, in order, each starting from the previous stage's weights), evaluate,
and write `metrics.json`, the predictions and the final model.

Word-level labels are aligned to subwords by labelling the first subword of each word and masking
the rest (-100); a sentence longer than the model's window is split into word chunks that fit, so no
word is ever truncated away. `--model crf` swaps the network for a CRF tagger (finetune/crf.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from augment.errors import AugkitError, InputError

TASKS = ("classification", "tagging")
TAG_COLUMNS = ("labels", "upos", "tags", "ner_tags", "pos_tags", "upos_tags")
TEXT_COLUMNS = ("text", "sentence")
IGNORE_INDEX = -100  # the loss ignores these positions (special tokens, non-first subwords, padding)
_BIO_LABEL = re.compile(r"^(O|[BIES]-.+)$")


@dataclass(frozen=True)
class TaggedSentence:
    words: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class LabelledText:
    text: str
    label: str


Example = TaggedSentence | LabelledText


@dataclass
class TaskSettings:
    """Everything that affects the trained model besides data, model and seed (recorded in metrics.json)."""

    epochs: int | list[int] = 3  # one number for every stage, or one per cascade stage
    batch_size: int = 16
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_length: int = 128
    select_best: bool = False  # evaluate after every epoch and keep the best epoch's weights
    patience: int | None = None  # with select_best: stop a stage after this many epochs without gain
    device: str = "auto"
    bf16: bool = False
    threads: int | None = None  # CPU threads for torch; 1 avoids oversubscription on a shared machine


# --------------------------------------------------------------------------------------------- data


def load_examples(path: str | Path, task: str) -> list[Example]:
    """Read CoNLL-U (words + UPOS), jsonl/csv/tsv/parquet records, or a Hugging Face `save_to_disk` folder.

    Tagging records hold `tokens` and one of `labels`/`upos`/`tags`/`ner_tags`/...; classification
    records hold `text` (or `sentence`) and `label`.
    """
    from augment.formats import TABLE_FORMATS, format_from_path, read_table

    path = Path(path)
    if not path.exists():
        raise AugkitError(f"{path}: no such file or folder")
    fmt = format_from_path(path, default="")
    if path.is_dir():
        examples = _load_hf_dataset(path, task)
    elif fmt == "conllu":
        if task != "tagging":
            raise InputError(path, f"a CoNLL-U file holds tagged words; it cannot feed --task {task}")
        examples = _read_conllu(path)
    elif fmt in TABLE_FORMATS:
        examples = _examples_from_rows(path, read_table(path, fmt).rows, task)
    else:
        raise InputError(path, "unknown format: expected .conllu, .jsonl, .csv, .tsv, .parquet or a dataset folder")
    if not examples:
        raise InputError(path, "holds no examples")
    return examples


def _read_conllu(path: Path) -> list[TaggedSentence]:
    from augment.formats import FORM, read_conllu

    sentences = []
    for sentence in read_conllu(path):
        # Multiword ranges (3-4) and empty nodes (5.1) carry no UPOS; syntactic words do.
        words = sentence.words()
        missing = [row[FORM] for row in words if row[3] in ("", "_")]
        if missing:
            raise InputError(path, f"word {missing[0]!r} has no UPOS tag", line=sentence.line)
        if words:
            sentences.append(TaggedSentence(tuple(row[FORM] for row in words), tuple(row[3] for row in words)))
    return sentences


def _examples_from_rows(path: Path, rows, task: str) -> list[Example]:
    examples = []
    for number, row in enumerate(rows, start=1):
        try:
            examples.append(_example_from_record(row, task))
        except ValueError as error:
            raise InputError(path, f"record {number}: {error}") from None
    return examples


def _example_from_record(record: dict[str, Any], task: str) -> Example:
    if task == "tagging":
        tag_column = next((name for name in TAG_COLUMNS if name in record), None)
        if "tokens" not in record or tag_column is None:
            raise ValueError(f"a tagging record needs 'tokens' and one of {', '.join(TAG_COLUMNS)}")
        words, tags = record["tokens"], record[tag_column]
        if not isinstance(words, list) or not isinstance(tags, list) or len(words) != len(tags):
            raise ValueError(f"'tokens' and '{tag_column}' must be lists of the same length")
        if not words:
            raise ValueError("empty 'tokens'")
        return TaggedSentence(tuple(str(word) for word in words), tuple(str(tag) for tag in tags))
    text_column = next((name for name in TEXT_COLUMNS if name in record), None)
    if text_column is None or "label" not in record:
        raise ValueError("a classification record needs 'text' (or 'sentence') and 'label'")
    return LabelledText(str(record[text_column]), str(record["label"]))


def _load_hf_dataset(path: Path, task: str) -> list[Example]:
    import datasets

    try:
        dataset = datasets.load_from_disk(str(path))
    except FileNotFoundError as error:
        raise InputError(path, f"not a Hugging Face dataset folder ({error})") from None
    if isinstance(dataset, datasets.DatasetDict):
        raise InputError(path, f"holds several splits ({', '.join(dataset)}); pass one split's folder, e.g. {path / next(iter(dataset))}")
    names = _class_label_names(dataset.features)
    rows = []
    for record in dataset:
        for column, label_names in names.items():
            value = record[column]
            record[column] = [label_names[v] for v in value] if isinstance(value, list) else label_names[value]
        rows.append(record)
    return _examples_from_rows(path, rows, task)


def _class_label_names(features) -> dict[str, list[str]]:
    """Columns stored as integer class ids, mapped back to their names."""
    import datasets

    names = {}
    for column, feature in features.items():
        inner = feature[0] if isinstance(feature, list) and feature else getattr(feature, "feature", feature)
        if isinstance(inner, datasets.ClassLabel):
            names[column] = inner.names
    return names


def label_scheme(labels: set[str]) -> str:
    """'bio' when every tag is O or B-/I-/E-/S-X (scored by entity with seqeval), else 'tags' (UPOS)."""
    if labels and all(_BIO_LABEL.match(label) for label in labels) and labels != {"O"}:
        return "bio"
    return "tags"


def unified_labels(datasets: list[list[Example]]) -> list[str]:
    """One sorted label list across every stage, eval and test set, so a head fits every stage."""
    labels: set[str] = set()
    for examples in datasets:
        for example in examples:
            labels.update(example.tags if isinstance(example, TaggedSentence) else (example.label,))
    return sorted(labels)


def mix_examples(
    datasets: list[list[Example]], proportions: list[float], seed: int, total: int | None = None
) -> tuple[list[Example], list[int]]:
    """Draw a training set whose shares follow `proportions` (normalised); seeded.

    The mix has `total` examples (default: all datasets' sizes added up). A dataset asked for more
    examples than it holds is repeated whole (reshuffled each pass) before a partial pass, so
    upsampling never favours some of its examples over others by more than one copy.
    """
    if len(proportions) != len(datasets):
        raise AugkitError(f"--mix has {len(proportions)} proportions for {len(datasets)} training sets")
    if any(p < 0 or not math.isfinite(p) for p in proportions) or sum(proportions) <= 0:
        raise AugkitError(f"--mix proportions must be non-negative with a positive sum, got {proportions}")
    total = sum(len(examples) for examples in datasets) if total is None else total
    if total <= 0:
        raise AugkitError(f"the mix size must be positive, got {total}")
    counts = _largest_remainder([p / sum(proportions) * total for p in proportions])
    rng = random.Random(seed)
    mixed: list[Example] = []
    for examples, count in zip(datasets, counts, strict=True):
        while count > 0:
            shuffled = examples[:]
            rng.shuffle(shuffled)
            mixed.extend(shuffled[:count])
            count -= len(shuffled)
    rng.shuffle(mixed)
    return mixed, counts


def _largest_remainder(shares: list[float]) -> list[int]:
    counts = [math.floor(share) for share in shares]
    missing = round(sum(shares)) - sum(counts)
    by_remainder = sorted(range(len(shares)), key=lambda i: (counts[i] - shares[i], i))
    for i in by_remainder[:missing]:
        counts[i] += 1
    return counts


# ------------------------------------------------------------------------------------------ metrics


def classification_metrics(gold: list[str], predicted: list[str | None]) -> dict[str, float]:
    """Accuracy and macro-F1 (unweighted mean over every label seen in gold or predictions)."""
    return {"accuracy": _accuracy(gold, predicted), "macro_f1": _macro_f1(gold, predicted), "examples": len(gold)}


def tagging_metrics(gold: list[list[str]], predicted: list[list[str | None]], scheme: str) -> dict[str, float]:
    """Word accuracy and macro-F1 over tags; for BIO also entity-level precision/recall/F1 (seqeval).

    A word the model could not see (no subword) has prediction None and counts as an error.
    """
    flat_gold = [tag for sentence in gold for tag in sentence]
    flat_predicted = [tag for sentence in predicted for tag in sentence]
    metrics = {
        "accuracy": _accuracy(flat_gold, flat_predicted),
        "macro_f1": _macro_f1(flat_gold, flat_predicted),
        "words": len(flat_gold),
        "sentences": len(gold),
    }
    if scheme == "bio":
        from seqeval.metrics import f1_score, precision_score, recall_score

        as_bio = [[tag if tag is not None else "O" for tag in sentence] for sentence in predicted]
        metrics.update(
            entity_precision=float(precision_score(gold, as_bio, zero_division=0)),
            entity_recall=float(recall_score(gold, as_bio, zero_division=0)),
            entity_f1=float(f1_score(gold, as_bio, zero_division=0)),
        )
    return metrics


def _accuracy(gold: list[str], predicted: list[str | None]) -> float:
    return sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold) if gold else 0.0


def _macro_f1(gold: list[str], predicted: list[str | None]) -> float:
    true_positive, false_positive, false_negative = Counter(), Counter(), Counter()
    for g, p in zip(gold, predicted, strict=True):
        if g == p:
            true_positive[g] += 1
            continue
        false_negative[g] += 1
        if p is not None:
            false_positive[p] += 1
    labels = set(gold) | {p for p in predicted if p is not None}
    if not labels:
        return 0.0
    scores = []
    for label in labels:
        denominator = 2 * true_positive[label] + false_positive[label] + false_negative[label]
        scores.append(2 * true_positive[label] / denominator if denominator else 0.0)
    return sum(scores) / len(scores)


def primary_metric(task: str, scheme: str) -> str:
    """The number early selection maximises and reports first."""
    if task == "classification":
        return "macro_f1"
    return "entity_f1" if scheme == "bio" else "accuracy"


# ----------------------------------------------------------------------------------------- encoding


@dataclass
class EncodedTagging:
    """Model inputs for tagged sentences; `chunks[i]` = (sentence index, first word index) of row i."""

    input_ids: list[list[int]]
    labels: list[list[int]]
    word_positions: list[list[int]]  # per row, the token position of each word's first subword (-1: none)
    chunks: list[tuple[int, int]]


def encode_tagged(tokenizer, sentences: list[TaggedSentence], label_to_id: dict[str, int], max_length: int) -> EncodedTagging:
    """First-subword labelling; sentences longer than `max_length` tokens are split into word chunks."""
    room = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    encoded = EncodedTagging([], [], [], [])
    for sentence_index, sentence in enumerate(sentences):
        pieces_per_word = [len(ids) for ids in tokenizer(list(sentence.words), add_special_tokens=False)["input_ids"]]
        start = 0
        while start < len(sentence.words):
            end, used = start, 0
            while end < len(sentence.words) and (end == start or used + pieces_per_word[end] <= room):
                used += pieces_per_word[end]
                end += 1
            _encode_chunk(tokenizer, sentence, start, end, label_to_id, max_length, encoded)
            encoded.chunks.append((sentence_index, start))
            start = end
    return encoded


def _encode_chunk(tokenizer, sentence, start, end, label_to_id, max_length, encoded: EncodedTagging) -> None:
    batch = tokenizer(list(sentence.words[start:end]), is_split_into_words=True, truncation=True, max_length=max_length)
    labels, positions, previous_word = [], [-1] * (end - start), None
    for position, word_index in enumerate(batch.word_ids()):
        if word_index is None or word_index == previous_word:
            labels.append(IGNORE_INDEX)
        else:
            labels.append(label_to_id[sentence.tags[start + word_index]])
            positions[word_index] = position
        previous_word = word_index
    encoded.input_ids.append(batch["input_ids"])
    encoded.labels.append(labels)
    encoded.word_positions.append(positions)


def encode_texts(tokenizer, examples: list[LabelledText], label_to_id: dict[str, int], max_length: int) -> tuple[list[list[int]], list[int], int]:
    """Token ids, label ids, and how many texts were cut at `max_length` (reported, not hidden)."""
    texts = [example.text for example in examples]
    truncated = sum(len(row) > max_length for row in tokenizer(texts)["input_ids"])
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    return ids, [label_to_id[example.label] for example in examples], truncated


# ------------------------------------------------------------------------------------------ training


def train_task(
    task: str,
    model_name: str,
    train_paths: list[str | Path],
    eval_path: str | Path,
    output_dir: str | Path,
    *,
    test_path: str | Path | None = None,
    seed: int = 0,
    mix: list[float] | None = None,
    mix_size: int | None = None,
    cascade: bool = False,
    settings: TaskSettings | None = None,
    tiny: dict[str, Any] | None = None,
    lora=None,
    crf_settings=None,
) -> dict[str, Any]:
    """Train, evaluate and save; returns (and writes to `output_dir/metrics.json`) the full report.

    Without `mix` or `cascade` the training sets are simply concatenated. With `mix` they are drawn in
    the given proportions (see `mix_examples`). With `cascade` each training set is one stage, trained
    in order, each stage starting from the weights the previous one ended with.
    """
    settings = settings or TaskSettings()
    if task not in TASKS:
        raise AugkitError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    if cascade and mix is not None:
        raise AugkitError("--cascade trains the sets one after another; it cannot be combined with --mix")
    if cascade and len(train_paths) < 2:
        raise AugkitError("--cascade needs at least two training sets (one per stage)")
    output = Path(output_dir)
    train_sets = [load_examples(path, task) for path in train_paths]
    eval_examples = load_examples(eval_path, task)
    test_examples = load_examples(test_path, task) if test_path is not None else None
    labels = unified_labels([*train_sets, eval_examples, test_examples or []])
    scheme = label_scheme(set(labels)) if task == "tagging" else "classes"

    if cascade:
        stages = [(str(path), examples) for path, examples in zip(train_paths, train_sets, strict=True)]
        mix_counts = None
    elif mix is not None:
        mixed, mix_counts = mix_examples(train_sets, mix, seed, mix_size)
        stages = [("+".join(str(path) for path in train_paths), mixed)]
    else:
        stages = [("+".join(str(path) for path in train_paths), [e for examples in train_sets for e in examples])]
        mix_counts = None

    report: dict[str, Any] = {
        "task": task, "model": str(model_name), "seed": seed, "label_scheme": scheme, "labels": labels,
        "primary_metric": primary_metric(task, scheme), "settings": asdict(settings),
        "train": [{"path": str(path), "examples": len(examples)} for path, examples in zip(train_paths, train_sets, strict=True)],
        "mode": "cascade" if cascade else "mix" if mix is not None else "concatenate",
        "mix": None if mix is None else {"proportions": mix, "examples_drawn": mix_counts},
        "eval": {"path": str(eval_path), "examples": len(eval_examples)},
        "test": None if test_path is None else {"path": str(test_path), "examples": len(test_examples)},
    }
    if str(model_name) == "crf":
        from finetune.crf import CrfSettings, train_crf_task

        report.update(train_crf_task(task, stages, eval_examples, test_examples, scheme, output, cascade,
                                     crf_settings or CrfSettings()))
    else:
        report.update(_train_network(task, model_name, stages, eval_examples, test_examples, labels, scheme,
                                     output, seed, settings, tiny, lora))
    output.mkdir(parents=True, exist_ok=True)
    (output / "metrics.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


def _train_network(task, model_name, stages, eval_examples, test_examples, labels, scheme, output, seed,
                   settings: TaskSettings, tiny, lora) -> dict[str, Any]:
    from finetune.models import count_parameters, load_model, save_model

    if settings.threads is not None:
        import torch

        torch.set_num_threads(settings.threads)
    corpus = [_text_of(example) for _, examples in stages for example in examples]
    model, tokenizer = load_model(
        model_name, "token-classification" if task == "tagging" else "sequence-classification",
        texts=corpus, labels=labels, tiny=tiny, lora=lora, seed=seed, dtype="float32",
    )
    head = _align_head(model, model_name, labels)
    device = _device(settings.device)
    model.to(device)
    stage_epochs = _epochs_per_stage(settings.epochs, len(stages))
    stage_reports = []
    for index, (name, examples) in enumerate(stages):
        stage_reports.append({"stage": index + 1, "train": name, "examples": len(examples),
                              **_fit(model, tokenizer, task, examples, eval_examples, labels, scheme, settings,
                                     stage_epochs[index], seed * 1000 + index, device)})
    result: dict[str, Any] = {"parameters": count_parameters(model), "head": head, "stages": stage_reports}
    result["eval_metrics"] = stage_reports[-1]["eval"]
    shown = eval_examples
    if test_examples is not None:
        result["test_metrics"], predictions = _evaluate(model, tokenizer, task, test_examples, labels, scheme, settings, device)
        shown = test_examples
    else:
        predictions = _evaluate(model, tokenizer, task, eval_examples, labels, scheme, settings, device)[1]
    write_predictions(output / "predictions.jsonl", shown, predictions)
    save_model(model.cpu(), tokenizer, output / "model", metadata={"command": "train-task", "task": task, "seed": seed})
    return result


def _epochs_per_stage(epochs: int | list[int], stages: int) -> list[int]:
    if isinstance(epochs, int):
        epochs = [epochs] * stages
    if len(epochs) != stages or any(n < 1 for n in epochs):
        raise AugkitError(f"epochs {list(epochs)}: give one positive number, or one per stage ({stages} stages)")
    return list(epochs)


def write_predictions(path: Path, examples: list[Example], predictions: list) -> None:
    from augment.formats import write_lines

    path.parent.mkdir(parents=True, exist_ok=True)
    write_lines(path, (
        json.dumps({"tokens": list(example.words), "gold": list(example.tags), "predicted": predicted}
                   if isinstance(example, TaggedSentence)
                   else {"text": example.text, "gold": example.label, "predicted": predicted}, ensure_ascii=False)
        for example, predicted in zip(examples, predictions, strict=True)
    ))


def _text_of(example: Example) -> str:
    return " ".join(example.words) if isinstance(example, TaggedSentence) else example.text


def _device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _align_head(model, model_name, labels: list[str]) -> str:
    """Keep a checkpoint's classifier only when it was trained on exactly these labels.

    Same labels in another order: rows are permuted. Other labels: the head is freshly initialised
    (transformers already does this when the number of labels differs).
    """
    from finetune.models import is_tiny

    config_file = Path(str(model_name)) / "config.json"
    if is_tiny(str(model_name)):
        return "new"
    if not config_file.is_file():
        return "new (checkpoint from the hub)"
    source = json.loads(config_file.read_text(encoding="utf-8")).get("id2label") or {}
    source_labels = [source[key] for key in sorted(source, key=int)]
    if source_labels == labels:
        return "carried over"
    classifier = getattr(model, "classifier", None)
    if classifier is None or not hasattr(classifier, "weight"):
        raise AugkitError(f"{model_name}: its labels differ from this task's and its classifier layer is not named "
                          "'classifier', so it cannot be re-initialised safely")
    import torch

    with torch.no_grad():
        if sorted(source_labels) == labels:
            order = [source_labels.index(label) for label in labels]
            classifier.weight.copy_(classifier.weight[order])
            classifier.bias.copy_(classifier.bias[order])
            return "carried over (rows reordered)"
        if len(source_labels) == len(labels):
            model._init_weights(classifier)
    return "new (the checkpoint's labels differ)"


def weights_fingerprint(model) -> str:
    """sha256 of every weight tensor's bytes, in name order: proves which weights a stage started from."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _fit(model, tokenizer, task, examples, eval_examples, labels, scheme, settings: TaskSettings, epochs: int,
         seed, device) -> dict:
    """One stage: AdamW, linear warm-up and decay, evaluation per epoch when selecting the best epoch."""
    import torch

    label_to_id = {label: i for i, label in enumerate(labels)}
    if task == "tagging":
        encoded = encode_tagged(tokenizer, examples, label_to_id, settings.max_length)
        rows, targets, truncated = encoded.input_ids, encoded.labels, 0
    else:
        rows, targets, truncated = encode_texts(tokenizer, examples, label_to_id, settings.max_length)
    start_fingerprint = weights_fingerprint(model)
    batches_per_epoch = math.ceil(len(rows) / settings.batch_size)
    total_steps = batches_per_epoch * epochs
    warmup = math.ceil(total_steps * settings.warmup_ratio)
    no_decay = ("bias", "LayerNorm.weight", "layernorm", "norm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if p.requires_grad and not any(k in n for k in no_decay)],
         "weight_decay": settings.weight_decay},
        {"params": [p for n, p in model.named_parameters() if p.requires_grad and any(k in n for k in no_decay)],
         "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=settings.learning_rate)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: (step + 1) / warmup if step < warmup else max(0.0, (total_steps - step) / max(1, total_steps - warmup))
    )
    generator = torch.Generator().manual_seed(seed)
    metric = primary_metric(task, scheme)
    history, best_score, best_epoch, best_state, stale = [], -math.inf, None, None, 0
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(rows), generator=generator).tolist()
        losses = []
        for first in range(0, len(order), settings.batch_size):
            batch = [order[i] for i in range(first, min(first + settings.batch_size, len(order)))]
            inputs = _pad([rows[i] for i in batch], tokenizer.pad_token_id, device)
            if task == "tagging":
                inputs["labels"] = _pad_labels([targets[i] for i in batch], device)
            else:
                inputs["labels"] = torch.tensor([targets[i] for i in batch], device=device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=settings.bf16):
                loss = model(**inputs).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
        entry = {"epoch": epoch, "train_loss": sum(losses) / len(losses)}
        if settings.select_best or epoch == epochs:
            entry["eval"] = _evaluate(model, tokenizer, task, eval_examples, labels, scheme, settings, device)[0]
        history.append(entry)
        if settings.select_best:
            score = entry["eval"][metric]
            if score > best_score:
                best_score, best_epoch, stale = score, epoch, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
                if settings.patience is not None and stale >= settings.patience:
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    selected = history[best_epoch - 1] if best_epoch is not None else history[-1]
    return {
        "eval": selected["eval"], "epochs_run": len(history), "best_epoch": best_epoch, "truncated_examples": truncated, "history": history,
        "weights_sha256_start": start_fingerprint, "weights_sha256_end": weights_fingerprint(model),
    }


def _pad(rows: list[list[int]], pad_id: int, device) -> dict[str, Any]:
    import torch

    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device)}


def _pad_labels(rows: list[list[int]], device):
    import torch

    width = max(len(row) for row in rows)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    for i, row in enumerate(rows):
        labels[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return labels.to(device)


def _evaluate(model, tokenizer, task, examples, labels, scheme, settings: TaskSettings, device) -> tuple[dict, list]:
    """Metrics and per-example predictions (a list of tags per sentence, or a label per text)."""
    import torch

    label_to_id = {label: i for i, label in enumerate(labels)}
    model.eval()
    if task == "tagging":
        encoded = encode_tagged(tokenizer, examples, label_to_id, settings.max_length)
        rows = encoded.input_ids
    else:
        rows = encode_texts(tokenizer, examples, label_to_id, settings.max_length)[0]
    # Batches of similar length waste little compute on padding; results go back to input order.
    by_length = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    best: list = [None] * len(rows)
    with torch.no_grad():
        for first in range(0, len(by_length), settings.batch_size * 2):
            batch = by_length[first: first + settings.batch_size * 2]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=settings.bf16):
                logits = model(**_pad([rows[i] for i in batch], tokenizer.pad_token_id, device)).logits
            choices = logits.argmax(-1).cpu().tolist()
            for i, choice in zip(batch, choices, strict=True):
                best[i] = choice
    if task == "classification":
        predicted = [labels[choice] for choice in best]
        return classification_metrics([example.label for example in examples], predicted), predicted
    predicted_tags: list[list[str | None]] = [[None] * len(example.words) for example in examples]
    for row, (sentence_index, first_word) in enumerate(encoded.chunks):
        for offset, position in enumerate(encoded.word_positions[row]):
            if position >= 0:
                predicted_tags[sentence_index][first_word + offset] = labels[best[row][position]]
    metrics = tagging_metrics([list(example.tags) for example in examples], predicted_tags, scheme)
    metrics["words_without_subwords"] = sum(tag is None for sentence in predicted_tags for tag in sentence)
    return metrics, predicted_tags
