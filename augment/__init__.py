"""augkit's text-to-text components: transliteration, translation, language identification."""

__version__ = "0.1.0"
