"""A CRF tagger over character n-gram features: a cheap classical second opinion (`--model crf`).

Each word is described by its lower-cased form, prefixes and suffixes (1-4 characters), character
2-/3-grams, its shape (Xxxx, dd, ...) and the forms and suffixes of its neighbours; a linear-chain
CRF (python-crfsuite, L-BFGS with L1+L2 regularisation) learns tag transitions on top. L-BFGS is
deterministic, so the seed only matters for drawing a mix. crfsuite cannot start from existing
weights, so a cascade is refused rather than silently trained as a concatenation.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from augment.errors import AugkitError

_SHAPE_RUNS = re.compile(r"(.)\1+")


@dataclass(frozen=True)
class CrfSettings:
    c1: float = 0.1  # L1 penalty
    c2: float = 0.01  # L2 penalty
    max_iterations: int = 100


def _shape(word: str) -> str:
    classes = "".join("X" if c.isupper() else "x" if c.isalpha() else "d" if c.isdigit() else c for c in word)
    return _SHAPE_RUNS.sub(r"\1", classes)


def word_features(words: tuple[str, ...] | list[str], index: int) -> list[str]:
    """The feature strings of `words[index]` in its sentence."""
    word = words[index]
    lower = word.lower()
    features = ["bias", f"w={lower}", f"shape={_shape(word)}", f"title={word.istitle()}", f"digit={word.isdigit()}"]
    features += [f"pre{n}={lower[:n]}" for n in range(1, 5) if len(lower) >= n]
    features += [f"suf{n}={lower[-n:]}" for n in range(1, 5) if len(lower) >= n]
    padded = f"<{lower}>"
    features += [f"c{n}={padded[i:i + n]}" for n in (2, 3) for i in range(len(padded) - n + 1)]
    for offset in (-2, -1, 1, 2):
        position = index + offset
        if 0 <= position < len(words):
            neighbour = words[position].lower()
            features += [f"{offset}w={neighbour}", f"{offset}suf3={neighbour[-3:]}"]
        else:
            features.append(f"{offset}w=<edge>")
    return features


def sentence_features(words) -> list[list[str]]:
    return [word_features(words, index) for index in range(len(words))]


def train_crf(sentences, model_path: Path, settings: CrfSettings = CrfSettings()) -> Path:
    """Train on `TaggedSentence`s and write the crfsuite model file."""
    import pycrfsuite

    trainer = pycrfsuite.Trainer(verbose=False)
    for sentence in sentences:
        trainer.append(sentence_features(sentence.words), list(sentence.tags))
    trainer.set_params({"c1": settings.c1, "c2": settings.c2, "max_iterations": settings.max_iterations,
                        "feature.possible_transitions": True})
    model_path.parent.mkdir(parents=True, exist_ok=True)
    trainer.train(str(model_path))
    return model_path


def predict_crf(model_path: Path, sentences) -> list[list[str]]:
    import pycrfsuite

    tagger = pycrfsuite.Tagger()
    tagger.open(str(model_path))
    try:
        return [tagger.tag(sentence_features(sentence.words)) for sentence in sentences]
    finally:
        tagger.close()


def train_crf_task(task, stages, eval_examples, test_examples, scheme: str, output: Path, cascade: bool,
                   settings: CrfSettings = CrfSettings()) -> dict[str, Any]:
    """The CRF branch of `finetune.task.train_task`: train, score eval (and test), write predictions."""
    from finetune.task import tagging_metrics, write_predictions

    if task != "tagging":
        raise AugkitError("--model crf is a sequence tagger; use it with --task tagging")
    if cascade:
        raise AugkitError("--model crf cannot chain stages (crfsuite has no warm start); use --mix or a network")
    try:
        import pycrfsuite  # noqa: F401
    except ImportError:
        raise AugkitError("--model crf needs python-crfsuite: pip install python-crfsuite") from None
    (_, train_examples), = stages
    model_path = train_crf(train_examples, output / "model" / "tagger.crfsuite", settings)

    def score(examples):
        predicted = predict_crf(model_path, examples)
        return tagging_metrics([list(e.tags) for e in examples], predicted, scheme), predicted

    result: dict[str, Any] = {"crf_settings": asdict(settings)}
    result["eval_metrics"], predictions = score(eval_examples)
    shown = eval_examples
    if test_examples is not None:
        result["test_metrics"], predictions = score(test_examples)
        shown = test_examples
    write_predictions(output / "predictions.jsonl", shown, predictions)
    return result
