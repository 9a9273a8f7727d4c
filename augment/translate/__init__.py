"""Machine translation for augmentation, on CTranslate2 (see docs/translation.md).

    from augment.translate import Translator, Decoding
    translator = Translator("facebook/nllb-200-distilled-600M", src="ar", tgt="mt", decoding=Decoding(beam_size=4))
    translator.translate(["مرحبا بالعالم."])  # {"مرحبا بالعالم.": ["Merħba bid-dinja."]}

`augment.translate.stream.translate_records` streams records (with labels) through it, and
`augkit translate` is the command line over both.
"""

from augment.translate.decoding import Decoding
from augment.translate.translator import TranslationStats, Translator

__all__ = ["Decoding", "TranslationStats", "Translator"]
