"""Differential fuzz test: augkit's schemes against a plain mirror of the published code (issue 12 §4).

`published_mirror` follows MLRS/maltify_arabic line by line (camel-tools 1.5.7 tokenizer, token
test, rule order, every post-processing regex); `fuzz_text` generates hostile input. On a
mismatch the test prints the smallest failing string it can shrink to.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import published_mirror as mirror
import pytest
from fuzz_text import LATIN, arabic_word, generate

from augment import Transliterator
from augment.engine import postprocess
from augment.text import tokenize

SEED = 20251120
COUNT = 20_000


def shrink(text: str, fails: Callable[[str], bool]) -> str:
    """A shortest-found substring-deletion of `text` that still fails."""
    size = max(1, len(text) // 2)
    while size:
        index = 0
        while index < len(text):
            candidate = text[:index] + text[index + size:]
            if fails(candidate):
                text = candidate
            else:
                index += size
        size //= 2
    return text


def mirror_for(scheme: Transliterator) -> Callable:
    if scheme.scheme.name == "buckwalter":
        return lambda sequence: mirror.transliterate_baseline(sequence, mirror.buckwalter_transliterate)
    if scheme.scheme.name == "uroman":
        return lambda sequence: mirror.transliterate_baseline(sequence, mirror.uroman_transliterate)
    mappings = mirror.published_mappings([(rule.pattern, rule.output) for rule in scheme.scheme.rules])
    return lambda sequence: mirror.transliterate_rules(sequence, mappings)


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return generate(COUNT, SEED)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["chartx", "buckwalter", "uroman"])
def test_schemes_equal_the_published_code_on_generated_text(name, texts):
    scheme = Transliterator(name)
    published = mirror_for(scheme)
    got = scheme.transliterate_many(texts)
    failing = [text for text, output in zip(texts, got, strict=True) if output != published(text)]
    if failing:
        smallest = min((shrink(text, lambda t: scheme.transliterate(t) != published(t)) for text in failing[:20]),
                       key=len)
        pytest.fail(f"{name}: {len(failing)} of {len(texts)} strings differ from the published code; smallest "
                    f"failing string {smallest!r}: augkit {scheme.transliterate(smallest)!r}, "
                    f"published {published(smallest)!r}")


@pytest.mark.parametrize("name", ["chartx", "buckwalter", "uroman"])
def test_token_mode_equals_the_published_code(name, texts):
    # Pre-tokenised input is not re-tokenised: tokens may hold spaces, `<EOS>`, anything.
    scheme = Transliterator(name)
    published = mirror_for(scheme)
    rng = random.Random(SEED)
    for text in rng.sample(texts, 1000):
        tokens = [piece for piece in text.split(rng.choice([" ", "\t", "\u00a0"])) if piece]
        assert scheme.transliterate_tokens(tokens) == published(tokens), tokens


def test_tokenizer_equals_camel_tools_own_regex(texts):
    # The mirror's loop against camel-tools 1.5.7's `_TOKENIZE_RE`, built the same way (slow to
    # compile and to run, hence a sample); augkit's tokenizer against the mirror on all strings.
    camel = mirror.camel_tokenize_regex()
    for text in texts[:300]:
        assert camel.findall(text) == mirror.simple_word_tokenize(text) == tokenize(text), text
    for text in texts:
        assert tokenize(text) == mirror.simple_word_tokenize(text), text


# MorphTx: the analyzer's output (diacritised Arabic with Maltese clitics such as `bi `, `il-`, `^`)
# goes through the rules, is joined and post-processed; the contractions create new contexts for
# the later steps. These pieces are what the tag table writes.
CLITICS = ["bi ", "il-", "li ", "fi ", "ma' ", "ta'", "għal ", "minn", "u ", "sa ", "^", "bħal ", "ħal", "l-"]


def analyzer_like_tokens(rng: random.Random, pool: list[str]) -> list[str]:
    tokens = []
    for _ in range(rng.randint(1, 8)):
        pieces = [rng.choice(CLITICS) for _ in range(rng.choice((0, 1, 1, 2, 3)))]
        pieces.append(rng.choice(pool) if rng.random() < 0.8 else rng.choice(LATIN))
        tokens.append("".join(pieces).strip() if rng.random() < 0.8 else "".join(pieces))
    return tokens


@pytest.mark.parametrize("name", ["morphtx", "morphtx-plus"])
def test_morphtx_post_processing_equals_the_published_code(name):
    # The rules and post-processing after the analyzer, for every scheme that has one; the analyzer
    # itself is tested in test_analyzers.py (and end to end below on real text).
    scheme = Transliterator(name)
    mappings = mirror.published_mappings([(rule.pattern, rule.output) for rule in scheme.scheme.rules])
    rng = random.Random(SEED)
    pool = [arabic_word(rng) for _ in range(300)]
    texts, published = [], []
    for _ in range(3000):
        analysed = analyzer_like_tokens(rng, pool)
        expected = mirror.transliterate_rules(analysed, mappings, analyze=lambda tokens: tokens)
        joined = mirror.post_process(" ".join(mirror.apply_mappings(f"<BOS>{t}<EOS>", mappings) for t in analysed))
        got = postprocess(" ".join(map(scheme._rewrite_token, analysed)), scheme.scheme.postprocess)
        assert got == joined, analysed
        assert [postprocess(scheme._rewrite_token(t), "maltese") for t in analysed] == expected
        texts.append(analysed)
        published.append(joined)
    # transliterate_many's path after the analyzer: outputs rewritten in batches, in-word steps
    # cached per output, the steps across words over each whole line.
    got = scheme._transliterate_analysed(texts)
    assert got == published, next((text, line) for text, line, want in zip(texts, got, published, strict=True) if line != want)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\u0628\u062d\u0627\u0644 \u0627\u0644\u0644\u064a\u0644", "bħal-lejl"),  # bħal il-lejl -> bħall-lejl -> bħal-lejl
        ("\u0639\u0644\u0649 \u0627\u0644\u0644\u064a\u0644", "għal-lejl"),
    ],
)
def test_morphtx_applies_every_step_in_the_published_order(text, expected):
    scheme = Transliterator("morphtx")
    mappings = mirror.published_mappings([(rule.pattern, rule.output) for rule in scheme.scheme.rules])
    analyse = scheme._preprocess
    assert scheme.transliterate(text) == mirror.transliterate_rules(text, mappings, analyze=analyse) == expected


@pytest.mark.shared_data
def test_morphtx_equals_the_published_code_on_real_sentences(shared_data):
    # The whole path on real text: augkit's analyzer output through the published steps.
    from augment.formats import read_conllu

    scheme = Transliterator("morphtx")
    mappings = mirror.published_mappings([(rule.pattern, rule.output) for rule in scheme.scheme.rules])
    sentences = [s.metadata("text") for s in read_conllu(shared_data / "arabic" / "ar_pud-ud-test.conllu")][:60]
    for text in sentences:
        assert scheme.transliterate(text) == mirror.transliterate_rules(text, mappings, analyze=scheme._preprocess)
