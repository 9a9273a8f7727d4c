"""Decoding settings: one frozen object, a signature naming every setting that changes the output."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from augment.errors import AugkitError


@dataclass(frozen=True)
class Decoding:
    beam_size: int = 4
    length_penalty: float = 1.0
    # Each batch may decode up to max_length_ratio * (longest source in tokens) + max_length_extra tokens.
    max_length_ratio: float = 2.0
    max_length_extra: int = 10
    sampling_topk: int = 1  # 1 = no sampling; 0 = sample from the whole vocabulary
    sampling_topp: float = 1.0
    sampling_temperature: float = 1.0
    num_hypotheses: int = 1
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    seed: int = 0

    def __post_init__(self):
        if self.beam_size < 1 or self.num_hypotheses < 1:
            raise AugkitError("beam size and number of hypotheses must be at least 1")
        if self.sampling and self.beam_size != 1:
            raise AugkitError("sampling (--sampling-topk/--sampling-topp) needs --beam 1")
        if not self.sampling and self.num_hypotheses > self.beam_size:
            raise AugkitError(f"--num-hypotheses {self.num_hypotheses} needs a beam at least as wide, or sampling")
        if self.max_length_ratio <= 0:
            raise AugkitError("--max-length-ratio must be positive")

    @property
    def sampling(self) -> bool:
        return self.sampling_topk != 1 or self.sampling_topp < 1.0

    def max_decoding_length(self, longest_source: int) -> int:
        return int(self.max_length_ratio * longest_source) + self.max_length_extra

    def ctranslate2_options(self) -> dict:
        options = {
            "beam_size": self.beam_size,
            "num_hypotheses": self.num_hypotheses,
            "length_penalty": self.length_penalty,
            "repetition_penalty": self.repetition_penalty,
            "no_repeat_ngram_size": self.no_repeat_ngram_size,
        }
        if self.sampling:
            options.update(sampling_topk=self.sampling_topk, sampling_topp=self.sampling_topp,
                           sampling_temperature=self.sampling_temperature)
        return options

    def signature(self) -> str:
        """`beam:4|lp:1.0|...`; the seed appears only when sampling makes it matter."""
        short = {"beam_size": "beam", "length_penalty": "lp", "max_length_ratio": "maxlen", "max_length_extra": "maxlen+",
                 "sampling_topk": "topk", "sampling_topp": "topp", "sampling_temperature": "temp",
                 "num_hypotheses": "nhyp", "repetition_penalty": "rep", "no_repeat_ngram_size": "norep", "seed": "seed"}
        values = asdict(self)
        if not self.sampling:
            for name in ("sampling_topk", "sampling_topp", "sampling_temperature", "seed"):
                values.pop(name)
        return "|".join(f"{short[name]}:{value}" for name, value in values.items())
