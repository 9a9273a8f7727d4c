"""The `camel` backend: CAMeL Tools' BERT unfactored disambiguator with a CALIMA database, as in
the paper. Needs `pip install "augkit[camel]"` and two data packages (see `DATA_PACKAGES`)."""

from __future__ import annotations

from augment.analyzers.base import Analysis, Analyzer
from augment.errors import AugkitError

# camel_data package names, per model: the BERT model and the morphology database it scores.
DATA_PACKAGES = {
    "msa": ("disambig-bert-unfactored-msa", "morphology-db-msa-r13"),
    "egy": ("disambig-bert-unfactored-egy", "morphology-db-egy-r13"),
}


class CamelAnalyzer(Analyzer):
    """Disambiguates whole sentences (the BERT model reads context), so nothing is memoised here;
    CAMeL Tools caches per-word rankings itself."""

    name = "camel"

    def __init__(self, disambiguator) -> None:
        super().__init__()
        self._disambiguator = disambiguator

    @classmethod
    def pretrained(cls, model: str = "msa") -> CamelAnalyzer:
        if model not in DATA_PACKAGES:
            raise AugkitError(f"unknown CAMeL model {model!r}; known: {', '.join(DATA_PACKAGES)}")
        bert_package, db_package = DATA_PACKAGES[model]
        install = f"camel_data -i {bert_package} && camel_data -i {db_package}"
        try:
            from camel_tools.disambig.bert import BERTUnfactoredDisambiguator
        except ImportError:
            raise AugkitError(
                f"the camel analyzer needs CAMeL Tools: pip install 'augkit[camel]', then {install}"
            ) from None
        try:
            # No pretrained ranking cache: it is a third data package and only speeds things up.
            disambiguator = BERTUnfactoredDisambiguator.pretrained(model, pretrained_cache=False)
        except Exception as error:  # CAMeL raises several types for missing data; all mean the same here
            raise AugkitError(
                f"could not load CAMeL Tools' BERT unfactored {model} disambiguator ({error}); "
                f"install its data with: {install}"
            ) from error
        return cls(disambiguator)

    def analyze(self, tokens: list[str]) -> list[Analysis | None]:
        if not tokens:
            return []
        words = self._disambiguator.disambiguate(tokens)
        if len(words) != len(tokens):
            raise AugkitError(f"CAMeL returned {len(words)} words for {len(tokens)} tokens")
        return [self.from_disambiguated(word) for word in words]

    def from_disambiguated(self, word) -> Analysis | None:
        """The top analysis of one CAMeL `DisambiguatedWord` (fields `word`, `analyses`), or None
        (counted) when CAMeL has none or its best is a backoff/punctuation non-analysis."""
        if not word.analyses:
            self.count("fallback_no_analysis")
            return None
        analysis = word.analyses[0].analysis
        if analysis.get("pos") in ("punc", "digit", "foreign") or not analysis.get("bw"):
            self.count("not_arabic")
            return None
        self.count("analyzed")
        return Analysis.from_camel(analysis)
