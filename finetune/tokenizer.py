"""Tokenizers for a new language: train, extend an existing one, report fertility.

    augkit tokenizer train  --data D --output DIR [--model-type unigram|bpe] [--vocab-size N]
    augkit tokenizer extend --model M --data D --output DIR [--new-pieces N]
    augkit tokenizer report --tokenizer T --data D [--group-by lang,scheme]

train: a sentencepiece model (`DIR/tokenizer.model`, `tokenizer.vocab`) with byte fallback, so no
text is ever unknown; DIR is also a Hugging Face tokenizer directory (`--tokenizer DIR` for tiny
models).

extend: trains sentencepiece on the new language's text, keeps the pieces the model's tokenizer
does not already have and that shorten the encoding of the text that contains them (most useful
first; a word-initial piece keeps its leading space), adds them to the Hugging
Face tokenizer, resizes the input embeddings and the output head, and initialises each new row as
the mean of the rows of the old pieces that spell the new piece (the old tokenizer's encoding of
it), for the embeddings and for an untied output head alike. Writes the model, the tokenizer and
`extend_report.json` (fertility on the data before and after).

report: fertility per group (language, transliteration scheme, or any record field; also looked
up in the record's `meta`): pieces per word, pieces per character, the byte-fallback rate (pieces
that are raw bytes: `<0xNN>` in sentencepiece, or byte-level pieces that do not decode to whole
characters) and the unknown-token rate. Words are whitespace-separated, except Tibetan, whose
words are its tsheg-separated syllables (marks such as shad are not words), and Maltese (a record
whose `lang` is Maltese), whose words are the Korpus Malti tokeniser's (`augment.maltese.words`:
`il-` `kelb`, as the Maltese treebank counts them).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from augment.errors import AugkitError

_GAIN_SAMPLE = 1000  # texts used to check that a new piece shortens encodings
_BYTE_PIECE = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")
_TIBETAN_MARKS_ONLY = re.compile(r"^[\u0F00-\u0F14\u0F3A-\u0F3D]+$")


def words(text: str, language: str | None = None) -> list[str]:
    """Word units for fertility: whitespace words, Tibetan split into tsheg syllables; Maltese words
    (`augment.maltese.words`) when `language` is Maltese."""
    from augment import maltese
    from finetune.evaluate import tibetan_syllables

    if maltese.is_maltese(language):
        return maltese.words(text)
    return [w for w in tibetan_syllables(text).split() if not _TIBETAN_MARKS_ONLY.match(w)]


# --- train ---------------------------------------------------------------------------------------

def train_sentencepiece(texts: Sequence[str], output: str | Path, model_type: str = "unigram",
                        vocab_size: int = 8000, character_coverage: float = 0.9995, seed: int = 0,
                        hf_files: bool = True) -> Path:
    """Train a sentencepiece model with byte fallback; returns the path of `tokenizer.model`.

    With `hf_files`, the directory is also a Hugging Face tokenizer (tokenizer.json and config), so
    `--tokenizer DIR` can give it to a tiny model.
    """
    import io

    import sentencepiece as spm

    if model_type not in ("unigram", "bpe"):
        raise AugkitError(f"unknown model type {model_type!r}; use unigram or bpe")
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    spm.set_random_generator_seed(seed)
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(texts), model_writer=model, model_type=model_type, vocab_size=vocab_size,
            character_coverage=character_coverage, byte_fallback=True,
            hard_vocab_limit=False, num_threads=1, minloglevel=2, split_digits=True,
        )
    except RuntimeError as error:
        raise AugkitError(f"sentencepiece training failed: {error}") from error
    path = out / "tokenizer.model"
    path.write_bytes(model.getvalue())
    processor = spm.SentencePieceProcessor(model_file=str(path))
    with open(out / "tokenizer.vocab", "w", encoding="utf-8") as handle:
        for i in range(processor.get_piece_size()):
            handle.write(f"{processor.id_to_piece(i)}\t{processor.get_score(i)}\n")
    if hf_files:
        from transformers import LlamaTokenizer

        # The Llama wrapper reproduces sentencepiece's segmentation exactly (byte fallback included).
        LlamaTokenizer.from_pretrained(str(out)).save_pretrained(str(out))
    return path


# --- extend --------------------------------------------------------------------------------------

def new_pieces(tokenizer, texts: list[str], count: int, model_type: str = "bpe", seed: int = 0) -> list[str]:
    """Up to `count` pieces learned on `texts` that `tokenizer` does not have, most useful first."""
    import tempfile

    import sentencepiece as spm

    with tempfile.TemporaryDirectory() as scratch:
        # Room for every character and byte piece sentencepiece must keep, plus twice the pieces wanted.
        characters = len(set().union(*map(set, texts)))
        path = train_sentencepiece(texts, scratch, model_type, vocab_size=count * 2 + characters + 256 + 16, seed=seed,
                                   hf_files=False)
        processor = spm.SentencePieceProcessor(model_file=str(path))
        ranked = sorted(range(processor.get_piece_size()), key=lambda i: -processor.get_score(i)) \
            if model_type == "unigram" else range(processor.get_piece_size())
        candidates = [processor.id_to_piece(i) for i in ranked
                      if not (processor.is_control(i) or processor.is_unknown(i) or processor.is_byte(i))]
    # Added tokens are matched in the raw text before the tokenizer's own rules, so a piece can also
    # break better existing tokens apart. Keep a piece only if it shortens the encoding of the
    # (sampled) chunks that contain it, as measured with the old tokenizer.
    chunks = Counter(" " + chunk for text in texts[:_GAIN_SAMPLE] for chunk in text.split())
    cost: dict[str, int] = {"": 0}

    def measure(fragments) -> None:
        missing = sorted({f for f in fragments if f not in cost})
        if missing:  # one batched call: the fast tokenizer encodes in parallel
            for fragment, ids in zip(missing, tokenizer(missing, add_special_tokens=False)["input_ids"], strict=True):
                cost[fragment] = len(ids)

    measure(chunks)

    vocabulary = tokenizer.get_vocab()
    chosen: list[str] = []
    for piece in candidates:
        # A word-initial piece keeps its space: added tokens match raw text, and a bare "kelb" would
        # leave the space before it as a token of its own.
        text = piece.replace("\u2581", " ")
        # Single characters are already spelled by the old pieces at no cost; keep multi-character pieces.
        if len(text.strip()) < 2 or text in vocabulary or text in chosen:
            continue
        containing = [(chunk, frequency, chunk.split(text)) for chunk, frequency in chunks.items() if text in chunk]
        measure(fragment for _, _, parts in containing for fragment in parts)
        gain = sum(frequency * (cost[chunk] - sum(cost[part] for part in parts) - (len(parts) - 1))
                   for chunk, frequency, parts in containing)
        if gain <= 0:
            continue
        chosen.append(text)
        if len(chosen) == count:
            break
    return chosen


def extend(model, tokenizer, pieces: Sequence[str]) -> dict[str, Any]:
    """Add `pieces`, resize embeddings and output head, initialise new rows from the old pieces' mean."""
    import copy

    import torch

    old_tokenizer = copy.deepcopy(tokenizer)
    old_size = len(tokenizer)
    added = tokenizer.add_tokens(list(pieces))
    if added == 0:
        return {"added": 0, "old_vocab": old_size, "new_vocab": old_size}
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)  # rows are set below
    spellings = {}
    for piece in pieces:
        new_id = tokenizer.convert_tokens_to_ids(piece)
        spellings[new_id] = old_tokenizer(piece, add_special_tokens=False)["input_ids"]
    matrices = [model.get_input_embeddings().weight]
    output = model.get_output_embeddings()
    if output is not None and output.weight.data_ptr() != matrices[0].data_ptr():
        matrices.append(output.weight)
    with torch.no_grad():
        for matrix in matrices:
            for new_id, old_ids in spellings.items():
                matrix[new_id] = matrix[old_ids].mean(dim=0)
    return {"added": added, "old_vocab": old_size, "new_vocab": len(tokenizer),
            "initialised_matrices": len(matrices)}


# --- report --------------------------------------------------------------------------------------

class PieceCounter:
    """Encodes texts with a Hugging Face tokenizer directory or a sentencepiece `.model` file."""

    def __init__(self, location: str | Path):
        location = str(location)
        if location.endswith(".model"):
            import sentencepiece as spm

            self.processor = spm.SentencePieceProcessor(model_file=location)
            self.tokenizer = None
        else:
            from transformers import AutoTokenizer

            from augment.hub import locate_model

            location = str(locate_model(location, "tokenizer"))
            try:
                self.tokenizer = AutoTokenizer.from_pretrained(location)
            except OSError as error:
                raise AugkitError(f"cannot load tokenizer {location!r}: {str(error).splitlines()[0]}") from error
            self.processor = None

    def counts(self, text: str) -> tuple[int, int, int]:
        """(pieces, byte-fallback pieces, unknown pieces) of one text."""
        if self.processor is not None:
            ids = self.processor.encode(text)
            return (len(ids), sum(self.processor.is_byte(i) for i in ids),
                    sum(self.processor.is_unknown(i) for i in ids))
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        pieces = self.tokenizer.convert_ids_to_tokens(ids)
        byte_pieces = sum(1 for p in pieces if _BYTE_PIECE.match(p))
        if byte_pieces == 0 and self._byte_level():
            # Byte-level BPE: a piece is a byte fragment when it does not decode to whole characters.
            byte_pieces = sum(1 for i in ids if "\ufffd" in self.tokenizer.decode([i]))
        unk = self.tokenizer.unk_token_id
        return len(ids), byte_pieces, sum(1 for i in ids if unk is not None and i == unk)

    def _byte_level(self) -> bool:
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        return backend is not None and "ByteLevel" in type(backend.pre_tokenizer).__name__ + str(backend.pre_tokenizer)


def _field(record: dict, name: str) -> str:
    value = record.get(name, (record.get("meta") or {}).get(name) if isinstance(record.get("meta"), dict) else None)
    return "-" if value is None else str(value)


def fertility(counter: PieceCounter, records, text_field: str = "text",
              group_by: Sequence[str] = ("lang", "scheme")) -> dict[str, dict[str, float]]:
    """Fertility statistics per group (fields joined by '/'), plus 'all'."""
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    present = [name for name in group_by if any(_field(r.record, name) != "-" for r in records)]
    for item in records:
        text = item.record.get(text_field)
        if not isinstance(text, str):
            from augment.errors import InputError

            raise InputError(item.path, f"record has no text field {text_field!r}", line=item.line)
        pieces, byte_pieces, unknown = counter.counts(text)
        for key in {"all", "/".join(_field(item.record, n) for n in present) or "all"}:
            group = totals[key]
            group["texts"] += 1
            group["pieces"] += pieces
            group["bytes_fallback"] += byte_pieces
            group["unknown"] += unknown
            group["words"] += len(words(text, item.record.get("lang")))
            group["characters"] += len(text)
    return {key: {
        "texts": g["texts"], "words": g["words"], "characters": g["characters"], "pieces": g["pieces"],
        "pieces_per_word": g["pieces"] / g["words"] if g["words"] else 0.0,
        "pieces_per_character": g["pieces"] / g["characters"] if g["characters"] else 0.0,
        "byte_fallback_rate": g["bytes_fallback"] / g["pieces"] if g["pieces"] else 0.0,
        "unknown_rate": g["unknown"] / g["pieces"] if g["pieces"] else 0.0,
    } for key, g in sorted(totals.items())}


def fertility_table(stats: dict[str, dict[str, float]], title: str = "group") -> str:
    lines = [f"| {title} | texts | pieces/word | pieces/char | byte fallback | unknown |",
             "| --- | --- | --- | --- | --- | --- |"]
    for key, s in stats.items():
        lines.append(f"| {key} | {s['texts']} | {s['pieces_per_word']:.3f} | {s['pieces_per_character']:.3f} | "
                     f"{s['byte_fallback_rate']:.2%} | {s['unknown_rate']:.2%} |")
    return "\n".join(lines) + "\n"


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
