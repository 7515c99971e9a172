"""Rewriting what users write into the words the knowledge base uses.

e5-small matches Chinese to Chinese well but an English term in a Chinese question
("OA deadline错过了") pulls it off course, and a mistyped character (实用新形) breaks the
character n-grams. A glossary kept with the knowledge (knowledge/_glossary.yml) fixes both
before matching; measured on the dev split it moved top-1 from 0.868 to 0.877.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.knowledge.text import normalize

GLOSSARY_FILE = "_glossary.yml"


class GlossaryError(ValueError):
    """The glossary file is not a mapping of terms to lists of variants."""


@dataclass(frozen=True)
class Glossary:
    pairs: tuple[tuple[str, str], ...] = ()   # (variant as users write it, the knowledge base's term)
    other_offices: tuple[str, ...] = ()       # names of patent offices other than CNIPA
    amount_words: tuple[str, ...] = ()        # words that ask "how much money"

    _pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False, default=None)
    _target: dict[str, str] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.pairs:
            # longest variant first, so "ic layout design" wins over "design"
            ordered = sorted(self.pairs, key=lambda p: -len(p[0]))
            alternation = "|".join(re.escape(v) for v, _ in ordered)
            object.__setattr__(self, "_pattern", re.compile(rf"(?<![a-z])(?:{alternation})(?![a-z])"))
            object.__setattr__(self, "_target", dict(self.pairs))

    def apply(self, text: str) -> str:
        """Normalised text with every variant replaced by its term (one pass, no chaining)."""
        text = normalize(text)
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self._target[m.group(0)], text)

    def asks_amount(self, text: str) -> bool:
        """Whether the question asks for an amount of money (then only an amount answers it)."""
        text = normalize(text)
        return any(w in text for w in self.amount_words)

    def names_other_office(self, text: str) -> bool:
        """Whether the question is about another office (USPTO, EPO...), not CNIPA."""
        text = normalize(text)
        return any(re.search(rf"(?<![a-z]){re.escape(o)}(?![a-z])", text) for o in self.other_offices)


def load_glossary(folder: Path) -> Glossary:
    path = folder / GLOSSARY_FILE
    if not path.exists():
        return Glossary()
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise GlossaryError(f"{path.name}: cannot be read as YAML: {exc}") from exc
    terms = doc.get("terms") if isinstance(doc, dict) else None
    if not isinstance(terms, dict):
        raise GlossaryError(f"{path.name}: expected `terms:` mapping a term to a list of variants")
    pairs: dict[str, str] = {}
    for term, variants in terms.items():
        if not isinstance(variants, list) or not str(term).strip():
            raise GlossaryError(f"{path.name}: {term!r} needs a list of variants")
        for variant in variants:
            key = normalize(str(variant))
            if not key or key in pairs and pairs[key] != str(term):
                raise GlossaryError(f"{path.name}: variant {variant!r} is empty or listed under two terms")
            pairs[key] = str(term).strip()
    offices = doc.get("other_offices") or []
    amount_words = doc.get("amount_words") or []
    if not isinstance(offices, list) or not isinstance(amount_words, list):
        raise GlossaryError(f"{path.name}: `other_offices` and `amount_words` must be lists")
    return Glossary(tuple(sorted(pairs.items())), tuple(sorted({normalize(str(o)) for o in offices} - {""})),
                    tuple(sorted({normalize(str(w)) for w in amount_words} - {""})))


NO_GLOSSARY = Glossary()
