"""Text normalisation shared by indexing and querying, so both sides see the same form."""

from __future__ import annotations

import functools
import re
import unicodedata

import zhconv

_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[\s\u3000-\u303f\uff00-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65!-/:-@\[-`{-~]+")


# a search normalises the same few texts many times over (the question, its readings, the
# candidates' questions for facets); script conversion is the dear part (~25 us a text)
@functools.lru_cache(maxsize=16384)
def normalize(text: str) -> str:
    """Simplified script, half-width forms, lower case, single spaces, no edge punctuation."""
    text = unicodedata.normalize("NFKC", text or "")
    text = zhconv.convert(text, "zh-cn")
    text = _SPACE.sub(" ", text.lower()).strip()
    return text.strip("。？！?!.,，、；;：: ")


def compact(text: str) -> str:
    """Normalised text without punctuation or spaces: the form character n-grams are taken from."""
    return _PUNCT.sub("", normalize(text))
