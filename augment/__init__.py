"""augkit's text-to-text components: transliteration, translation, language identification."""

__version__ = "0.1.0"

from augment.transliterate import Transliterator, transliterate  # noqa: E402

__all__ = ["Transliterator", "transliterate", "__version__"]
