"""Transliteration schemes as data: one folder per scheme, a manifest plus rule tables."""

from pathlib import Path

SCHEMES_DIR = Path(__file__).parent
