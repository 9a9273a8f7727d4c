"""How each model family is told the languages: one small class per family.

A family turns a source segment into CTranslate2 source tokens plus an optional target prefix, and
target tokens back into text:
- NLLB-200: source language on the tokenizer (`arb_Arab` token), target language token as prefix.
- M2M-100: the same with `__ar__`-style tokens (shortest ISO 639 code).
- Marian / OPUS-MT: no language tokens, except multi-target models whose vocabularies hold
  `>>mlt<<`-style tokens, which go in front of the source.
- T5-style MADLAD: a `<2mt>` token in front of the source.
- Decoder-only LLMs (CTranslate2 `Generator`): a prompt template with `{src_name}`, `{tgt_name}`,
  `{src}`, `{tgt}` and `{text}`; the continuation up to the first line break is the translation.
"""

from __future__ import annotations

from augment import languages
from augment.errors import AugkitError

DEFAULT_PROMPT = "Translate from {src_name} to {tgt_name}.\n{src_name}: {text}\n{tgt_name}:"


class Family:
    name: str
    generator = False  # decoder-only: runs on ctranslate2.Generator

    def __init__(self, tokenizer, src: str, tgt: str):
        self.tokenizer = tokenizer
        self.src, self.tgt = languages.to_flores(src), languages.to_flores(tgt)
        self.vocabulary = tokenizer.get_vocab()

    def source_tokens(self, text: str) -> list[str]:
        return self.tokenizer.convert_ids_to_tokens(self.tokenizer.encode(text))

    def target_prefix(self) -> list[str] | None:
        return None

    def detokenize(self, tokens: list[str]) -> str:
        ids = self.tokenizer.convert_tokens_to_ids(tokens)
        return self.tokenizer.decode(ids, skip_special_tokens=True).strip()

    def _require_token(self, token: str, language: str) -> str:
        if token not in self.vocabulary:
            raise AugkitError(f"this {self.name} model has no token {token!r} for language {language!r}")
        return token


class Nllb(Family):
    name = "nllb"

    def __init__(self, tokenizer, src: str, tgt: str):
        super().__init__(tokenizer, src, tgt)
        self.tokenizer.src_lang = self._require_token(self.src, src)
        self.prefix = [self._require_token(self.tgt, tgt)]

    def target_prefix(self) -> list[str]:
        return self.prefix


class M2m100(Nllb):
    name = "m2m100"

    def __init__(self, tokenizer, src: str, tgt: str):
        Family.__init__(self, tokenizer, src, tgt)
        self._require_token(f"__{languages.iso639_1(src)}__", src)
        self.tokenizer.src_lang = languages.iso639_1(src)
        self.prefix = [self._require_token(f"__{languages.iso639_1(tgt)}__", tgt)]


class Marian(Family):
    name = "marian"

    def __init__(self, tokenizer, src: str, tgt: str):
        super().__init__(tokenizer, src, tgt)
        self.language_token = None
        if any(token.startswith(">>") and token.endswith("<<") for token in self.vocabulary):
            candidates = [f">>{code}<<" for code in (self.tgt, languages.iso639_3(tgt), languages.iso639_1(tgt))]
            self.language_token = next((c for c in candidates if c in self.vocabulary), None)
            if self.language_token is None:
                raise AugkitError(f"this multi-target marian model has none of the tokens {candidates} for {tgt!r}")

    def source_tokens(self, text: str) -> list[str]:
        tokens = super().source_tokens(text)
        return [self.language_token, *tokens] if self.language_token else tokens


class T5(Family):
    name = "t5"

    def __init__(self, tokenizer, src: str, tgt: str):
        super().__init__(tokenizer, src, tgt)
        self.language_token = self._require_token(f"<2{languages.iso639_1(tgt)}>", tgt)

    def source_tokens(self, text: str) -> list[str]:
        return [self.language_token, *super().source_tokens(text)]


class Llm(Family):
    name = "llm"
    generator = True

    def __init__(self, tokenizer, src: str, tgt: str, prompt_template: str = DEFAULT_PROMPT):
        super().__init__(tokenizer, src, tgt)
        if "{text}" not in prompt_template:
            raise AugkitError(f"prompt template {prompt_template!r} has no {{text}} placeholder")
        self.prompt_template = prompt_template
        self.names = {"src": self.src, "tgt": self.tgt,
                      "src_name": languages.language_name(self.src), "tgt_name": languages.language_name(self.tgt)}

    def prompt(self, text: str) -> str:
        return self.prompt_template.format(text=text, **self.names)

    def source_tokens(self, text: str) -> list[str]:
        return super().source_tokens(self.prompt(text))

    def detokenize(self, tokens: list[str]) -> str:
        # A prompt-tuned model answers on one line; what follows a line break is the model going on.
        return super().detokenize(tokens).split("\n", 1)[0].strip()


FAMILY_CLASSES = {cls.name: cls for cls in (Nllb, M2m100, Marian, T5, Llm)}


def make_family(name: str, tokenizer, src: str, tgt: str, prompt_template: str | None = None) -> Family:
    if name == "llm":
        return Llm(tokenizer, src, tgt, prompt_template or DEFAULT_PROMPT)
    if prompt_template:
        raise AugkitError(f"--prompt-template applies to decoder-only models, not to the {name} family")
    return FAMILY_CLASSES[name](tokenizer, src, tgt)
