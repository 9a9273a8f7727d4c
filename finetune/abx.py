"""`augkit abx`: training-free minimal-pair ABX tasks, form (language) and meaning, layer by layer.

After de Seyssel et al., *Discriminating Form and Meaning in Multilingual Models with Minimal-Pair
ABX Tasks* (EMNLP 2025). A triplet (A, B, X) is scored correct when X is nearer A than B (a tie
counts one half); the score is the share correct, 0.5 is chance, 1.0 perfect discrimination.

- **form** (language discrimination): A and B are translations of each other, in L1 and L2; X is
  another sentence in L1. Meaning is held constant between A and B, so only language tells X's
  side. A high score: the layer separates the languages.
- **form-unpaired**: the same question when L1 or L2 has no translations of the other (a
  monolingual set such as Maltese MUDT): A in L1, B a random sentence in L2, X another sentence in
  L1. Neither pair shares meaning, so language is again the only cue. A score near 0.5: L2
  sentences look like L1 sentences to the model, "close in form".
- **meaning** (meaning discrimination): A and X are translations (L1, L2), B is another sentence
  in L1. Language is held constant between A and B, so only meaning tells X's side. Needs
  translations, so no monolingual set takes part.

    abx = run_abx(model="tiny-bert", languages=[...], settings=AbxSettings(seed=0), output="runs/abx")

Languages: parallel sets (sentences with ids shared across files, e.g. the PUD treebanks by
`sent_id`), monolingual sets, and derived ones, `LANG+SCHEME`: LANG transliterated with a
scheme (`ar+chartx`), parallel to LANG. Each set is sampled with the seed (`max_sentences`).

Representations: every distinct sentence is encoded once, in batches sorted by length, under
`torch.inference_mode`; each layer's hidden states (the embedding output is layer 0) are pooled
per sentence: `mean` over the sentence's tokens (padding and special tokens such as [CLS]/[SEP]
masked out), or the `first` or `last` real token. Distance: `cosine` (1 - cos) or `angular`
(arccos(cos) / pi); the two order every pair the same way, so they give the same scores.

Sampling and confidence: for each A sentence, `triplets` triplets, drawn with a generator seeded by
(seed, task, L1, L2), the same triplets for every layer. The confidence interval is a percentile
bootstrap over A sentences (`bootstrap` resamples, seeded likewise), since triplets sharing an A
are not independent.

Outputs: `abx.csv` (layer, task, L1, L2, score, ci_low, ci_high, n), `abx.png` (score by layer,
one panel per task), `abx_summary.txt` (where form and meaning peak; with a target, every
language's form score against it), `abx.json` (settings, languages, rows) and the signature
(`abx|model:tiny-bert@<fingerprint>|pool:mean|dist:cosine|seed:0|n:200|triplets:1|boot:1000|augkit:…`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from augment.errors import AugkitError, InputError

TASKS = ("form", "form-unpaired", "meaning")
POOLINGS = ("mean", "first", "last")
DISTANCES = ("cosine", "angular")


@dataclass(frozen=True)
class AbxSettings:
    pooling: str = "mean"
    distance: str = "cosine"
    seed: int = 0
    max_sentences: int | None = 500  # per language, sampled with the seed; None: all
    triplets: int = 1  # per A sentence
    bootstrap: int = 1000
    confidence: float = 0.95
    batch_size: int = 32
    max_length: int = 128  # tokens per sentence; longer ones are truncated

    def __post_init__(self):
        if self.pooling not in POOLINGS:
            raise AugkitError(f"unknown pooling {self.pooling!r}; use {', '.join(POOLINGS)}")
        if self.distance not in DISTANCES:
            raise AugkitError(f"unknown distance {self.distance!r}; use {', '.join(DISTANCES)}")
        for name in ("triplets", "bootstrap", "batch_size", "max_length"):
            if getattr(self, name) < 1:
                raise AugkitError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_sentences is not None and self.max_sentences < 3:
            raise AugkitError(f"max_sentences must be at least 3, got {self.max_sentences}")
        if not 0 < self.confidence < 1:
            raise AugkitError(f"confidence must lie between 0 and 1, got {self.confidence}")


@dataclass
class Language:
    """One set of sentences: `ids` join translations across parallel sets (None for monolingual)."""

    name: str
    texts: list[str]
    ids: list[str] | None
    origin: str  # the file, or how it was derived

    @property
    def parallel(self) -> bool:
        return self.ids is not None


@dataclass(frozen=True)
class Row:
    layer: int
    task: str
    l1: str
    l2: str
    score: float
    ci_low: float
    ci_high: float
    n: int  # triplets


@dataclass
class AbxResult:
    rows: list[Row]
    signature: str
    settings: dict[str, Any]
    languages: dict[str, dict[str, Any]]
    layers: int
    skipped: list[str] = field(default_factory=list)  # pairs and tasks that could not be formed, and why
    target: str | None = None

    def summary(self) -> str:
        lines = [f"ABX discrimination, {self.signature}",
                 f"pooling: {_POOLING_WORDS[self.settings['pooling']]}; distance: {self.settings['distance']}; "
                 f"score: share of triplets where X is nearer A than B (0.5 = chance)."]
        for task in TASKS:
            rows = [row for row in self.rows if row.task == task]
            if not rows:
                continue
            by_layer = _mean_by_layer(rows)
            peak = max(by_layer, key=lambda layer: (by_layer[layer], -layer))
            pairs = len({(row.l1, row.l2) for row in rows})
            lines.append(f"{task}: peaks at layer {peak} (mean {by_layer[peak]:.3f} over {pairs} language pair"
                         f"{'s' if pairs != 1 else ''}); by layer " +
                         ", ".join(f"{layer}: {score:.3f}" for layer, score in by_layer.items()) + ".")
        if self.target:
            lines.append(self.target_lines())
        lines.extend(f"skipped: {reason}" for reason in self.skipped)
        return "\n".join(lines) + "\n"

    def target_lines(self) -> str:
        """Every language's form score against the target at the last layer, nearest in form first."""
        last = self.layers - 1
        rows = [row for row in self.rows if row.layer == last and row.task in ("form", "form-unpaired")
                and row.l1 == self.target]
        if not rows:
            return f"no form task has {self.target} as L1"
        ranked = sorted(rows, key=lambda row: (row.score, row.l2))
        return (f"form against {self.target} at the last layer ({last}; lower = harder to tell apart = closer in "
                f"form): " + ", ".join(f"{row.l2} {row.score:.3f} [{row.ci_low:.3f}, {row.ci_high:.3f}]"
                                       for row in ranked))


_POOLING_WORDS = {
    "mean": "mean of each layer's hidden states over the sentence's tokens (padding and special tokens masked)",
    "first": "hidden state of the first real token",
    "last": "hidden state of the last real token",
}


# --- inputs ----------------------------------------------------------------------------------------

def read_sentences(path: str | Path) -> list[tuple[str, str]]:
    """(id, text) of every sentence: CoNLL-U (`sent_id`, `# text` or the FORMs), jsonl/csv/tsv/parquet
    records (`id` or the line number, `text`), or .txt lines (the line number)."""
    from augment.formats import format_from_path, read_conllu

    location = Path(path)
    if not location.is_file():
        raise AugkitError(f"{path}: no such file")
    sentences = []
    if format_from_path(location) == "conllu":
        for number, sentence in enumerate(read_conllu(location), start=1):
            text = sentence.metadata("text") or " ".join(row[1] for row in sentence.words())
            sentences.append((sentence.metadata("sent_id") or str(number), text))
    else:
        from finetune.data import load_records

        for item in load_records(location):
            text = item.record.get("text")
            if not isinstance(text, str):
                raise InputError(item.path, "record has no string field 'text'", line=item.line)
            sentences.append((str(item.record.get("id", item.line)), text))
    sentences = [(sentence_id, text) for sentence_id, text in sentences if text.strip()]
    ids = [sentence_id for sentence_id, _ in sentences]
    if len(set(ids)) != len(ids):
        raise AugkitError(f"{path}: sentence ids repeat, so they cannot join translations")
    return sentences


def load_languages(parallel: dict[str, str], monolingual: dict[str, str], derived: list[str],
                   settings: AbxSettings) -> list[Language]:
    """Parallel sets restricted to the ids they all share and sampled together, monolingual sets
    sampled each on its own, and `LANG+SCHEME` sets transliterated from LANG's sample."""
    languages: list[Language] = []
    named = set()
    for name in [*parallel, *monolingual]:
        if name in named:
            raise AugkitError(f"language {name!r} is given twice")
        named.add(name)
    if parallel:
        tables = {name: dict(read_sentences(path)) for name, path in parallel.items()}
        first = next(iter(tables))
        shared = [i for i in tables[first] if all(i in table for table in tables.values())]
        if len(shared) < 3:
            raise AugkitError(f"the parallel sets share {len(shared)} sentence ids; ABX needs at least 3 "
                              f"({', '.join(f'{n}: {p}' for n, p in parallel.items())})")
        ids = _sample(shared, settings, "parallel")
        languages += [Language(name, [tables[name][i] for i in ids], ids, str(parallel[name])) for name in tables]
    for name, path in monolingual.items():
        texts = [text for _, text in read_sentences(path)]
        if len(texts) < 3:
            raise AugkitError(f"{path}: {len(texts)} sentences; ABX needs at least 3")
        languages.append(Language(name, _sample(texts, settings, name), None, str(path)))
    by_name = {language.name: language for language in languages}
    for spec in derived:
        base, sep, scheme = spec.partition("+")
        if not sep or not scheme or base not in by_name:
            raise AugkitError(f"derived language {spec!r}: write LANG+SCHEME with LANG one of "
                              f"{', '.join(by_name) or '(none given)'}, e.g. ar+chartx")
        if spec in by_name:
            raise AugkitError(f"language {spec!r} is given twice")
        from augment.transliterate import Transliterator

        source = by_name[base]
        transliterator = Transliterator(scheme)
        language = Language(spec, transliterator.transliterate_many(source.texts), source.ids,
                            f"{base} with {transliterator.signature}")
        languages.append(language)
        by_name[spec] = language
    return languages


def _sample(items: list, settings: AbxSettings, name: str) -> list:
    """A seeded sample of `max_sentences` items, in their original order."""
    if settings.max_sentences is None or len(items) <= settings.max_sentences:
        return list(items)
    chosen = sorted(random.Random(f"{settings.seed}:{name}").sample(range(len(items)), settings.max_sentences))
    return [items[i] for i in chosen]


def parse_assignments(values: list[str] | None, option: str) -> dict[str, str]:
    """`["ar=path", "en=path"]` -> {"ar": "path", "en": "path"}."""
    result = {}
    for value in values or ():
        name, sep, path = value.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise AugkitError(f"{option} expects LANG=PATH, got {value!r}")
        result[name.strip()] = path.strip()
    return result


# --- representations -------------------------------------------------------------------------------

def load_encoder(model_name: str, texts: list[str], seed: int):
    """(model, tokenizer, fingerprint): a Hugging Face encoder or decoder (id or directory; the
    encoder of an encoder-decoder), or a tiny augkit model with random weights whose tokenizer is
    trained on `texts`. The fingerprint hashes the weights and the vocabulary."""
    import hashlib

    import torch

    from finetune.models import is_tiny, load_model, set_seed
    from finetune.task import weights_fingerprint

    if is_tiny(model_name):
        task = "masked-lm" if model_name == "tiny-bert" else "causal-lm"
        model, tokenizer = load_model(model_name, task, texts=texts, seed=seed)
    else:
        from transformers import AutoConfig, AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        set_seed(seed)
        verbosity, progress = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
        hf_logging.set_verbosity_error()  # heads the bare model leaves out are expected; checked below
        hf_logging.disable_progress_bar()
        try:
            config = AutoConfig.from_pretrained(model_name)
            model, loading = AutoModel.from_pretrained(model_name, output_loading_info=True)
            tokenizer = AutoTokenizer.from_pretrained(model_name)
        except OSError as error:
            raise AugkitError(f"cannot load model {model_name!r}: {str(error).splitlines()[0]}") from error
        finally:
            hf_logging.set_verbosity(verbosity)
            if progress:
                hf_logging.enable_progress_bar()
        # Only the pooler (unused here) may be new; any other missing weight would make states random.
        missing = [key for key in loading["missing_keys"] if not key.startswith("pooler.")]
        if missing:
            raise AugkitError(f"{model_name}: the checkpoint lacks {len(missing)} weight(s) of its base model, "
                              f"e.g. {missing[0]}; its hidden states would be random")
        if getattr(config, "is_encoder_decoder", False):
            model = model.get_encoder()
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    if torch.cuda.is_available():
        model = model.to("cuda")
    digest = hashlib.sha256(weights_fingerprint(model).encode())
    digest.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    return model, tokenizer, digest.hexdigest()[:16]


def encode(model, tokenizer, texts: list[str], settings: AbxSettings) -> np.ndarray:
    """Pooled hidden states, shape (layers, len(texts), hidden), float32: every text once, in
    batches of similar length."""
    import torch

    device = next(model.parameters()).device
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=True, truncation=True,
                                             max_length=settings.max_length)["input_ids"]]
    order = sorted(range(len(texts)), key=lambda i: (lengths[i], i))
    pooled: np.ndarray | None = None
    with torch.inference_mode():
        for start in range(0, len(order), settings.batch_size):
            batch = order[start:start + settings.batch_size]
            inputs = tokenizer([texts[i] for i in batch], padding=True, truncation=True,
                               max_length=settings.max_length, return_tensors="pt", return_special_tokens_mask=True)
            special = inputs.pop("special_tokens_mask")
            inputs = {key: value.to(device) for key, value in inputs.items()}
            hidden = model(**inputs, output_hidden_states=True).hidden_states
            states = torch.stack(hidden).float()  # (layers, batch, tokens, hidden)
            attention = inputs["attention_mask"].bool()
            vectors = _pool(states, attention, attention & ~special.to(device).bool(), settings.pooling)
            if pooled is None:
                pooled = np.zeros((len(hidden), len(texts), states.shape[-1]), dtype=np.float32)
            pooled[:, batch] = vectors.cpu().numpy()
    return pooled


def _pool(states, attention, content, pooling: str):
    """(layers, batch, hidden) from (layers, batch, tokens, hidden); `content` masks padding and special
    tokens (a sentence made of special tokens only falls back to `attention`)."""
    import torch

    if pooling == "mean":
        mask = torch.where(content.any(dim=1, keepdim=True), content, attention).to(states.dtype)
        return (states * mask[None, :, :, None]).sum(dim=2) / mask.sum(dim=1)[None, :, None]
    positions = torch.arange(attention.shape[1], device=attention.device)[None, :].expand_as(attention)
    real = torch.where(content.any(dim=1, keepdim=True), content, attention)
    if pooling == "first":
        index = torch.where(real, positions, attention.shape[1]).min(dim=1).values
    else:
        index = torch.where(real, positions, -1).max(dim=1).values
    return states[:, torch.arange(states.shape[1]), index]


# --- triplets and scores ---------------------------------------------------------------------------

def _generator(settings: AbxSettings, *key: object) -> np.random.Generator:
    """A generator for one cell, independent of the order cells are computed in."""
    return np.random.default_rng([settings.seed, zlib.crc32("\x1f".join(map(str, key)).encode())])


def triplets(task: str, first: Language, second: Language, settings: AbxSettings) -> np.ndarray:
    """(units, triplets, 3) positions (a, b, x), each into its own language's texts: a and x index
    `first` for form tasks; for meaning, a and b index `first` and x indexes `second`."""
    rng = _generator(settings, "triplets", task, first.name, second.name)
    if task == "form-unpaired":
        units = np.arange(len(first.texts))
        partners = rng.integers(0, len(second.texts), size=(len(units), settings.triplets))
    else:
        positions = {sentence_id: index for index, sentence_id in enumerate(second.ids)}
        units = np.array([i for i, sentence_id in enumerate(first.ids) if sentence_id in positions])
        partners = np.repeat(np.array([positions[first.ids[i]] for i in units])[:, None], settings.triplets, axis=1)
    # "Another sentence in L1": uniform over first's sentences other than the unit's own.
    others = rng.integers(0, len(first.texts) - 1, size=(len(units), settings.triplets))
    others = others + (others >= units[:, None])
    anchors = np.repeat(units[:, None], settings.triplets, axis=1)
    if task == "meaning":
        return np.stack([anchors, others, partners], axis=-1)  # B another L1 sentence, X the translation
    return np.stack([anchors, partners, others], axis=-1)  # B the L2 sentence, X another L1 sentence


def outcomes(vectors_first: np.ndarray, vectors_second: np.ndarray, positions: np.ndarray, task: str,
             distance: str) -> np.ndarray:
    """1 where X is nearer A than B, 0.5 on a tie, 0 otherwise; shape (units, triplets)."""
    a = vectors_first[positions[..., 0]]
    b = (vectors_first if task == "meaning" else vectors_second)[positions[..., 1]]
    x = (vectors_second if task == "meaning" else vectors_first)[positions[..., 2]]
    d_ax, d_bx = _distance(a, x, distance), _distance(b, x, distance)
    return np.where(d_ax < d_bx, 1.0, np.where(d_ax == d_bx, 0.5, 0.0))


def _distance(u: np.ndarray, v: np.ndarray, kind: str) -> np.ndarray:
    norms = np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1)
    cos = np.clip(np.einsum("...i,...i->...", u, v) / np.where(norms > 0, norms, 1.0), -1.0, 1.0)
    cos = np.where(norms > 0, cos, 0.0)  # a zero vector is orthogonal to everything
    return 1.0 - cos if kind == "cosine" else np.arccos(cos) / math.pi


def bootstrap(unit_scores: np.ndarray, settings: AbxSettings, *key: object) -> tuple[float, float]:
    """Percentile interval of the mean of `unit_scores`, resampling units with replacement. The
    scores take few distinct values (multiples of 1/(2 * triplets)), so a resample is a multinomial
    draw over them: exact, and cheap for any number of units."""
    values, counts = np.unique(unit_scores, return_counts=True)
    draws = _generator(settings, "bootstrap", *key).multinomial(len(unit_scores), counts / counts.sum(),
                                                                size=settings.bootstrap)
    means = draws @ values / len(unit_scores)
    tail = (1 - settings.confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def plan_pairs(languages: list[Language], pairs: list[tuple[str, str]] | None) -> tuple[list[tuple[str, Language, Language]], list[str]]:
    """(task, L1, L2) for every ordered pair (or the given ones), and what could not be formed."""
    by_name = {language.name: language for language in languages}
    if pairs is None:
        pairs = [(a.name, b.name) for a in languages for b in languages if a.name != b.name]
    cells, monolingual_pairs = [], {}
    for l1, l2 in pairs:
        for name in (l1, l2):
            if name not in by_name:
                raise AugkitError(f"pair {l1}:{l2}: unknown language {name!r}; known: {', '.join(by_name)}")
        if l1 == l2:
            raise AugkitError(f"pair {l1}:{l2} compares a language with itself")
        first, second = by_name[l1], by_name[l2]
        if first.parallel and second.parallel:
            cells += [("form", first, second), ("meaning", first, second)]
        else:
            cells.append(("form-unpaired", first, second))
            monolingual_pairs.setdefault(l1 if not first.parallel else l2, []).append(f"{l1}:{l2}")
    skipped = [f"meaning not scored for {len(names)} pair(s) with {name}, which has no translations "
               f"({', '.join(names)})" for name, names in monolingual_pairs.items()]
    return cells, skipped


def score(languages: list[Language], vectors: dict[str, np.ndarray], pairs: list[tuple[str, str]] | None,
          settings: AbxSettings) -> tuple[list[Row], list[str]]:
    """Every (layer, task, L1, L2) cell: score and bootstrap interval over A sentences."""
    cells, skipped = plan_pairs(languages, pairs)
    rows = []
    for task, first, second in cells:
        positions = triplets(task, first, second, settings)
        for layer in range(vectors[first.name].shape[0]):
            result = outcomes(vectors[first.name][layer], vectors[second.name][layer], positions, task,
                              settings.distance)
            units = result.mean(axis=1)
            low, high = bootstrap(units, settings, task, first.name, second.name, layer)
            rows.append(Row(layer, task, first.name, second.name, float(units.mean()), low, high, int(result.size)))
    return rows, skipped


# --- the whole run ---------------------------------------------------------------------------------

def run_abx(model: str, languages: list[Language], settings: AbxSettings, output: str | Path | None = None,
            pairs: list[tuple[str, str]] | None = None, target: str | None = None) -> AbxResult:
    from augment import __version__

    if len(languages) < 2:
        raise AugkitError("ABX needs at least two languages")
    names = [language.name for language in languages]
    if target is not None and target not in names:
        raise AugkitError(f"target {target!r} is not one of the languages ({', '.join(names)})")
    unique = list(dict.fromkeys(text for language in languages for text in language.texts))
    encoder, tokenizer, fingerprint = load_encoder(model, unique, settings.seed)
    pooled = encode(encoder, tokenizer, unique, settings)
    row_of = {text: i for i, text in enumerate(unique)}
    vectors = {language.name: pooled[:, [row_of[text] for text in language.texts]] for language in languages}
    rows, skipped = score(languages, vectors, pairs, settings)
    sizes = sorted({len(language.texts) for language in languages})
    signature = (f"abx|model:{_short_name(model)}@{fingerprint}|pool:{settings.pooling}|dist:{settings.distance}"
                 f"|seed:{settings.seed}|n:{'/'.join(map(str, sizes))}|triplets:{settings.triplets}"
                 f"|boot:{settings.bootstrap}|augkit:{__version__}")
    result = AbxResult(rows, signature, asdict(settings),
                       {language.name: {"sentences": len(language.texts), "parallel": language.parallel,
                                        "origin": language.origin} for language in languages},
                       pooled.shape[0], skipped, target)
    if output is not None:
        write_outputs(result, Path(output))
    return result


def _short_name(model: str) -> str:
    path = Path(model)
    return path.name if path.exists() else model


def write_outputs(result: AbxResult, output: Path) -> dict[str, Path]:
    from corpora.writers import write_text_atomic

    output.mkdir(parents=True, exist_ok=True)
    paths = {name: output / name for name in ("abx.csv", "abx.json", "abx_summary.txt", "abx.png")}
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["layer", "task", "L1", "L2", "score", "ci_low", "ci_high", "n"])
    for row in result.rows:
        writer.writerow([row.layer, row.task, row.l1, row.l2, f"{row.score:.4f}", f"{row.ci_low:.4f}",
                         f"{row.ci_high:.4f}", row.n])
    write_text_atomic(paths["abx.csv"], table.getvalue())
    document = {"signature": result.signature, "settings": result.settings, "languages": result.languages,
                "layers": result.layers, "target": result.target, "skipped": result.skipped,
                "rows": [asdict(row) for row in result.rows]}
    write_text_atomic(paths["abx.json"], json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    write_text_atomic(paths["abx_summary.txt"], result.summary())
    _plot(result, paths["abx.png"])
    return paths


def _mean_by_layer(rows: list[Row]) -> dict[int, float]:
    layers: dict[int, list[float]] = {}
    for row in rows:
        layers.setdefault(row.layer, []).append(row.score)
    return {layer: float(np.mean(scores)) for layer, scores in sorted(layers.items())}


def _plot(result: AbxResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [task for task in TASKS if any(row.task == task for row in result.rows)]
    figure, axes = plt.subplots(1, len(tasks), figsize=(4.6 * len(tasks), 3.8), squeeze=False, sharey=True)
    for axis, task in zip(axes[0], tasks, strict=True):
        rows = [row for row in result.rows if row.task == task]
        pairs = list(dict.fromkeys((row.l1, row.l2) for row in rows))
        highlighted = [pair for pair in pairs if result.target in pair] if result.target else pairs
        for pair in pairs:
            series = sorted((row.layer, row.score) for row in rows if (row.l1, row.l2) == pair)
            layers, scores = zip(*series, strict=True)
            if pair in highlighted and len(highlighted) <= 12:
                axis.plot(layers, scores, marker="o", linewidth=1.2, label=f"{pair[0]} vs {pair[1]}")
            else:
                axis.plot(layers, scores, color="0.75", linewidth=0.7)
        by_layer = _mean_by_layer(rows)
        axis.plot(list(by_layer), list(by_layer.values()), "k--", linewidth=1.6, label="mean of pairs")
        axis.axhline(0.5, color="red", linewidth=0.6, linestyle=":")
        axis.set_title(task)
        axis.set_xlabel("layer (0 = embeddings)")
        axis.set_xticks(sorted(by_layer))
        axis.legend(fontsize=6)
    axes[0][0].set_ylabel("ABX score (0.5 = chance)")
    figure.suptitle(result.signature, fontsize=6)
    figure.tight_layout()
    temporary = path.with_name(f".{path.name}.tmp.png")
    figure.savefig(temporary, format="png", dpi=110, metadata={"Software": None})
    plt.close(figure)
    temporary.replace(path)


# --- command line ----------------------------------------------------------------------------------

def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "abx", help="minimal-pair ABX: does each layer separate languages (form) and match translations (meaning)?",
        description="Training-free ABX discrimination (de Seyssel et al., EMNLP 2025) for any Hugging Face "
                    "encoder or decoder, or an augkit tiny model, layer by layer. Writes abx.csv, abx.png, "
                    "abx_summary.txt and abx.json to --output and prints the summary.",
    )
    parser.add_argument("--model", required=True, help="tiny-bert, tiny-qwen2, a Hugging Face id or a model directory")
    parser.add_argument("--parallel", action="append", metavar="LANG=PATH",
                        help="a parallel set (CoNLL-U sent_id, jsonl/csv/tsv/parquet id, or txt line number "
                             "joins translations), repeatable")
    parser.add_argument("--monolingual", action="append", metavar="LANG=PATH", help="a monolingual set, repeatable")
    parser.add_argument("--derive", action="append", metavar="LANG+SCHEME",
                        help="LANG transliterated with SCHEME as one more language, e.g. ar+chartx (repeatable)")
    parser.add_argument("--pairs", help="L1:L2 pairs to score, comma-separated (default: every ordered pair)")
    parser.add_argument("--target", help="a language to compare every other language's form against in the summary")
    parser.add_argument("--output", "-o", required=True, help="output directory")
    parser.add_argument("--max-sentences", type=int, default=500, help="per language, seeded sample (default 500; 0: all)")
    parser.add_argument("--triplets", type=int, default=1, help="triplets per A sentence (default 1)")
    parser.add_argument("--pooling", choices=POOLINGS, default="mean")
    parser.add_argument("--distance", choices=DISTANCES, default="cosine")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128, help="tokens per sentence (longer ones are truncated)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    parser.set_defaults(func=run_command)


def run_command(args) -> int:
    settings = AbxSettings(pooling=args.pooling, distance=args.distance, seed=args.seed,
                           max_sentences=args.max_sentences or None, triplets=args.triplets,
                           bootstrap=args.bootstrap, batch_size=args.batch_size, max_length=args.max_length)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    pairs = None
    if args.pairs:
        pairs = []
        for pair in args.pairs.split(","):
            l1, sep, l2 = pair.strip().partition(":")
            if not sep:
                raise AugkitError(f"--pairs expects L1:L2 pairs, got {pair!r}")
            pairs.append((l1, l2))
    languages = load_languages(parse_assignments(args.parallel, "--parallel"),
                               parse_assignments(args.monolingual, "--monolingual"), args.derive or [], settings)
    result = run_abx(args.model, languages, settings, args.output, pairs, args.target)
    print(result.summary(), end="")
    print(f"abx: wrote abx.csv, abx.png, abx_summary.txt, abx.json to {args.output}")
    return 0
