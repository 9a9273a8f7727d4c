"""Transliterate text or pre-tokenized sentences with a scheme (the Python API of `augkit transliterate`).

    >>> from augment import transliterate, Transliterator
    >>> transliterate("بِيَد")
    'bijed'
    >>> transliterate("الدَّار", normalize="arabic")   # typed text is NFC: vowel before shadda
    'addar'
    >>> chartx = Transliterator("chartx", normalize="arabic")
    >>> chartx.transliterate_tokens(["بِيَد", "،"])
    ['bijed', ',']
    >>> dataset.map(chartx.map_batch, batched=True)          # adds the column text_chartx

Text mode tokenizes (augment.text), rewrites every token, joins the tokens with single spaces and
post-processes the whole string. Token mode rewrites each given token and post-processes it alone,
so the output has exactly as many tokens as the input (for NER/POS data).
`Transliterator.signature` records every setting that determines the output.
"""

from __future__ import annotations

import os
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from augment import __version__
from augment.engine import (
    CACHE_SIZE,
    RuleEngine,
    buckwalter,
    postprocess,
    postprocess_joined_lines,
    postprocess_text,
    postprocess_text_lines,
    postprocess_words,
    token_test,
)
from augment.errors import AugkitError
from augment.normalize import get_normalizer
from augment.schemes import END, START, Scheme, load_scheme
from augment.text import mark_lines, split_emoji_words, tokenize

if TYPE_CHECKING:
    from augment.analyzers import Analyzer

# transliterate_many works through texts about this many characters at a time: large enough to
# amortise the per-batch passes, small enough for the batch strings to stay in the CPU cache
# (measured fastest on the benchmark corpora, 18% faster than one batch).
CHUNK_CHARS = 8192
# A chunk's lines are joined around this word: a Unicode noncharacter, never in interchanged text
# (and checked for), which the word cache maps to a newline.
_LINE_BREAK = "\ufdd2"
_LINE_BREAK_WORD = f" {_LINE_BREAK} "


class Transliterator:
    """A loaded, compiled scheme; reuse one instance for a whole corpus (it memoises words)."""

    def __init__(self, scheme: str | Scheme = "chartx", normalize: str | None = None, cache_size: int = CACHE_SIZE,
                 analysis_cache: str | os.PathLike | None = None):
        """`analysis_cache`, for schemes with an analyzer: the persistent cache of analyses (None: the
        default file in augkit's cache folder; "none": none; else a path), see augment.analyzers.store."""
        self.scheme = scheme if isinstance(scheme, Scheme) else load_scheme(scheme)
        self.normalize = normalize or "none"
        self._normalizer = get_normalizer(normalize)
        self._cache_size = cache_size
        self._analysis_cache = analysis_cache
        self.engine: RuleEngine | None = None
        self._rewrite_token = self._token_transform(cache_size)
        # text mode: word -> rewrite + word-level post-processing (None: the word has no tokens)
        self._word_cache: dict[str, str | None] = {_LINE_BREAK: "\n"}
        self._token_cache: dict[str, str] = {}  # token mode: token -> rewrite + post-processing
        self._mapped_word_cache: dict[str, str] = {}  # analyzer output -> rewrite + word-level post-processing
        self.analyzer: Analyzer | None = None  # the scheme's morphological analyzer, if it has one
        self._preprocess = self._analyzer_hook()

    def __reduce__(self):
        # Pickled (for worker processes, datasets fingerprints) as its configuration; caches rebuild.
        return (Transliterator, (self.scheme, None if self.normalize == "none" else self.normalize, self._cache_size,
                                 self._analysis_cache))

    @property
    def signature(self) -> str:
        """`scheme:chartx|v:2|norm:none|tok:punct|augkit:0.1.0`, plus the analyzer (with its version,
        `augment.analyzers.backend_version`), the token test when it is not the published one, or
        the uroman version."""
        parts = [f"scheme:{self.scheme.name}", f"v:{self.scheme.version}", f"norm:{self.normalize}",
                 f"tok:{self.scheme.tokenizer}"]
        if self.scheme.analyzer:
            from augment.analyzers import backend_version

            parts.append(f"analyzer:{self.scheme.analyzer}@{backend_version(self.scheme.analyzer)}")
        if self.scheme.token_test != "published":
            parts.append(f"test:{self.scheme.token_test}")
        if self.scheme.transform == "uroman":
            from importlib.metadata import version

            parts.append(f"uroman:{version('uroman')}")
        parts.append(f"augkit:{__version__}")
        return "|".join(parts)

    def transliterate(self, text: str) -> str:
        """One text (a line, a sentence, a document) -> its transliteration."""
        return self.transliterate_many([text])[0]

    def transliterate_many(self, texts: Sequence[str]) -> list[str]:
        """Many texts at once: the same output as `transliterate` on each, faster on short texts."""
        if self._normalizer is not None:
            texts = [self._normalizer(text) for text in texts]
        rule_set = self.scheme.postprocess
        if self.scheme.tokenizer == "none":
            return [postprocess(self._rewrite_token(text), rule_set) for text in texts]
        if self._preprocess is not None:
            return self._transliterate_analysed(self._preprocess_texts([tokenize(text) for text in texts]))
        outputs: list[str] = []
        chunk: list[str] = []
        size = 0
        for text in texts:
            chunk.append(text)
            size += len(text)
            if size >= CHUNK_CHARS:
                outputs += self._transliterate_chunk(chunk)
                chunk, size = [], 0
        return outputs + self._transliterate_chunk(chunk)

    def _transliterate_chunk(self, texts: list[str]) -> list[str]:
        # Tokens never span whitespace, so each whitespace-separated word is rewritten once (with
        # the post-processing steps that stay inside words) and remembered; joining the words'
        # outputs with single spaces joins all tokens with single spaces. The chunk is one string
        # whose lines are separated by a line-break word: a constant number of C-level passes
        # (split, set difference, a join of cached outputs, the post-processing) whatever its size.
        if not texts:
            return []
        joined = _LINE_BREAK_WORD.join(texts)
        if joined.count(_LINE_BREAK) != len(texts) - 1:
            # The text holds the line-break character itself: a noncharacter, which the tokenizer
            # drops as it drops a space, so a space in its place gives the same tokens.
            joined = _LINE_BREAK_WORD.join(text.replace(_LINE_BREAK, " ") for text in texts)
        words = joined.split()
        cache = self._word_cache
        missing = set(words).difference(cache)
        if len(cache) + len(missing) > self._cache_size:
            cache.clear()
            cache[_LINE_BREAK] = "\n"
            missing = set(words).difference(cache)
        if missing:
            self._remember(list(missing))
        try:
            output = " ".join(map(cache.__getitem__, words))
        except TypeError:  # a word without tokens (only separators such as ZWNJ) is None: it adds nothing
            output = " ".join([piece for piece in map(cache.__getitem__, words) if piece is not None])
        if output.count("\n") != len(texts) - 1:  # a word's output holds a newline: line by line
            return [postprocess_text(" ".join(piece for piece in map(cache.__getitem__, text.split())
                                              if piece is not None), self.scheme.postprocess) for text in texts]
        # Each line break has a joining space on its left and one on its right (one, shared, around
        # an empty line; none at the ends): drop the one on the left, then the one on the right.
        output = output.replace(" \n", "\n").replace("\n ", "\n")
        return postprocess_joined_lines(output, self.scheme.postprocess).split("\n")

    def _transliterate_analysed(self, analysed: list[list[str]]) -> list[str]:
        """Texts given as the analyzer's per-token outputs -> their transliterations, as published:
        each output rewritten as one token, the rewrites joined by single spaces, and every
        post-processing step applied to the joined text in the published order. Steps 1-2 never
        match across whitespace, so `_mapped_words` applies them once per distinct output; the
        steps that look across words (3-6) run over each whole text (all texts in one pass)."""
        words = self._mapped_words(analysed)
        return postprocess_text_lines([" ".join(map(words.__getitem__, tokens)) for tokens in analysed],
                                      self.scheme.postprocess)

    def _mapped_words(self, mapped: list[list[str]]) -> dict[str, str]:
        """The analyzer's per-token outputs (which may hold spaces: `li medresthom`) rewritten by the
        rules and the in-word post-processing steps, each rewritten as one marked token (as
        `rewrite_token` would), the missing ones in one C-level pass per rule (see `_remember`)."""
        cache = self._mapped_word_cache
        missing = set().union(*mapped).difference(cache)
        if len(cache) + len(missing) > self._cache_size:
            cache.clear()
            missing = set().union(*mapped)
        if not missing:
            return cache
        rule_set = self.scheme.postprocess
        if self.engine is None or not self.engine.batchable:
            one_by_one, batched = missing, ()
        else:
            # Rewritten alone: an empty output (the batch has no line for it), one holding a newline,
            # and one that `rewrite_token` rewrites with the published literal markers (`<`, a marker).
            one_by_one = {token for token in missing
                          if not token or "\n" in token or "<" in token or START in token or END in token}
            batched = missing - one_by_one if one_by_one else missing
        cache.update((token, postprocess_words(self._rewrite_token(token), rule_set)) for token in one_by_one)
        for group, plan in self.engine.partition("\n".join(batched)) if batched else ():
            marked = START + group.replace("\n", END + "\n" + START) + END
            outputs = postprocess_words(self.engine.rewrite_marked(marked, plan), rule_set)
            cache.update(zip(group.split("\n"), outputs.split("\n"), strict=True))
        return cache

    def transliterate_tokens(self, tokens: Sequence[str]) -> list[str]:
        """Token mode: one output token per input token, each post-processed alone.

        As published, the Maltese post-processing runs on each token, while detokenisation (the
        baselines' only step) is a step of joined text: the baselines return tokens as rewritten.
        """
        tokens = list(tokens)
        if self._normalizer is not None:
            tokens = [self._normalizer(token) for token in tokens]
        if self._preprocess is not None:
            tokens = self._preprocess(tokens)
        cache = self._token_cache
        rule_set = "none" if self.scheme.postprocess == "detokenize" else self.scheme.postprocess
        if len(cache) > self._cache_size:
            cache.clear()
        for token in set(tokens).difference(cache):
            cache[token] = postprocess(self._rewrite_token(token), rule_set)
        return [cache[token] for token in tokens]

    def transliterate_values(self, values: Sequence[str | Sequence[str] | None]) -> list:
        """Mixed values, one output each: strings in text mode (batched), token lists in token mode, None kept."""
        outputs = list(values)
        texts = [i for i, value in enumerate(values) if isinstance(value, str)]
        for i, output in zip(texts, self.transliterate_many([values[i] for i in texts]), strict=True):
            outputs[i] = output
        for i, value in enumerate(values):
            if value is not None and not isinstance(value, str):
                outputs[i] = self.transliterate_tokens(value)
        return outputs

    def map_batch(self, batch: dict[str, list[Any]], column: str = "text", output_column: str | None = None) -> dict:
        """For `datasets.Dataset.map(batched=True)`: adds `<column>_<scheme>` (or `output_column`).

        A column of strings is transliterated in text mode, a column of token lists in token mode.
        """
        if column not in batch:
            raise AugkitError(f"no column {column!r}; columns: {', '.join(batch)}")
        return {**batch, output_column or f"{column}_{self.scheme.name}": self.transliterate_values(batch[column])}

    def flush(self) -> None:
        """Write the analyses still queued for the persistent analysis cache (see augment.analyzers.store)."""
        if self.analyzer is not None:
            self.analyzer.flush()

    def _remember(self, words: list[str]) -> None:
        """Cache the outputs of distinct whitespace-free words: each word's token rewrites joined by
        spaces, with the post-processing steps that stay inside words; None for a word without tokens."""
        cache, rule_set = self._word_cache, self.scheme.postprocess
        if self.engine is None or not self.engine.batchable:
            plain, one_by_one = "", words
        else:
            plain, one_by_one = split_emoji_words("\n".join(words))
        rewrite = self._rewrite_token
        for word in one_by_one:
            tokens = tokenize(word)
            cache[word] = postprocess_words(" ".join(map(rewrite, tokens)), rule_set) if tokens else None
        # One C-level pass per rule over each group of words, instead of one per token; neither
        # the rules nor postprocess_words ever match across the newlines between words.
        for group, plan in self.engine.partition(plain) if plain else ():
            marked = mark_lines(group)
            outputs = postprocess_words(self.engine.rewrite_marked(marked, plan), rule_set).split("\n")
            if not marked or "\n\n" in marked or marked[0] == "\n" or marked[-1] == "\n":  # words without tokens
                outputs = [output if tokens else None for output, tokens in zip(outputs, marked.split("\n"), strict=True)]
            cache.update(zip(group.split("\n"), outputs, strict=True))

    def _token_transform(self, cache_size: int) -> Callable[[str], str]:
        """The memoised per-token rewrite of the scheme's transform."""
        transform = self.scheme.transform
        if transform == "rules":
            self.engine = RuleEngine([(rule.pattern, rule.output) for rule in self.scheme.rules], cache_size)
            return self.engine.rewrite_token
        if transform in ("buckwalter", "uroman"):
            applies = token_test(self.scheme.token_test)
            if transform == "buckwalter":
                convert = buckwalter
            else:
                romanizer, language = _uroman(), self.scheme.source_language

                def convert(token: str) -> str:
                    return romanizer.romanize_string(token, lcode=language)

            def baseline(token: str) -> str:
                return convert(token) if applies(token) else token

            return lru_cache(maxsize=cache_size)(baseline)
        return str  # identity

    def _analyzer_hook(self) -> Callable[[list[str]], list[str]] | None:
        """Morphology-aware schemes preprocess the tokens of a text before the rules (augment.morphtx)."""
        if not self.scheme.analyzer:
            return None
        from augment.morphtx import build_preprocessor

        preprocessor = build_preprocessor(self.scheme, self._analysis_cache)
        self.analyzer = preprocessor.analyzer
        self._preprocess_texts = preprocessor.map_texts
        return preprocessor.map_tokens


def transliterate_batches(transliterator: Transliterator, batches: Iterable[Sequence], num_proc: int = 1) -> Iterator[list]:
    """`transliterator.transliterate_values` of each batch, in order. With `num_proc` > 1 the batches
    run in that many worker processes (each with its own copy of the transliterator; they share the
    persistent analysis cache), at most 2 x num_proc batches ahead of the one being returned; the
    outputs are the same for any num_proc, and the workers' analyzer counters are added to the
    transliterator's own (`analyzer.stats`, `analyzer.served`)."""
    if num_proc <= 1:
        for batch in batches:
            yield transliterator.transliterate_values(batch)
        transliterator.flush()
        return
    import multiprocessing

    # Not "fork": the parent may hold SQLite connections and loaded libraries a child must not share.
    context = multiprocessing.get_context("forkserver" if sys.platform == "linux" else "spawn")
    with context.Pool(num_proc, initializer=_start_worker, initargs=(transliterator,)) as pool:
        in_flight: deque = deque()
        for batch in batches:
            in_flight.append(pool.apply_async(_work, (list(batch),)))
            if len(in_flight) >= 2 * num_proc:
                yield _merge(transliterator, *in_flight.popleft().get())
        while in_flight:
            yield _merge(transliterator, *in_flight.popleft().get())


_WORKER: Transliterator | None = None


def _start_worker(transliterator: Transliterator) -> None:
    global _WORKER
    _WORKER = transliterator


def _work(batch: list) -> tuple[list, Counter, Counter]:
    analyzer = _WORKER.analyzer
    before = (Counter(analyzer.stats), Counter(analyzer.served)) if analyzer is not None else (Counter(), Counter())
    outputs = _WORKER.transliterate_values(batch)
    if analyzer is None:
        return outputs, Counter(), Counter()
    _WORKER.flush()  # a pool's workers are stopped without their exit handlers
    return outputs, analyzer.stats - before[0], analyzer.served - before[1]


def _merge(transliterator: Transliterator, outputs: list, stats: Counter, served: Counter) -> list:
    if transliterator.analyzer is not None:
        transliterator.analyzer.stats.update(stats)
        transliterator.analyzer.served.update(served)
    return outputs


@lru_cache(maxsize=1)
def _uroman():
    import uroman

    return uroman.Uroman()


@lru_cache(maxsize=16)
def get_transliterator(scheme: str = "chartx", normalize: str | None = None,
                       analysis_cache: str | None = None) -> Transliterator:
    """A shared Transliterator per (scheme, normalize, analysis_cache), so repeated calls reuse its caches."""
    return Transliterator(scheme, normalize, analysis_cache=analysis_cache)


def transliterate(text_or_tokens: str | Sequence[str], scheme: str = "chartx", normalize: str | None = None):
    """A string -> its transliteration; a list of tokens -> one output token per input token."""
    transliterator = get_transliterator(scheme, normalize)
    if isinstance(text_or_tokens, str):
        return transliterator.transliterate(text_or_tokens)
    return transliterator.transliterate_tokens(text_or_tokens)
