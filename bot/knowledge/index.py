"""The retrieval index: dense vectors of every phrasing plus the character n-gram signal.

Persisted under var/index/ with the encoder's name and dimension and the knowledge
content hash; `load_or_build` refuses (or rebuilds) rather than serve a stale index.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.knowledge.encoders import Encoder
from bot.knowledge.entries import Entry, KnowledgeBase
from bot.knowledge.lexical import CharNgramIndex
from bot.knowledge.policy import Hit, Thresholds
from bot.knowledge.text import normalize

log = logging.getLogger(__name__)
FORMAT_VERSION = 1


class StaleIndexError(RuntimeError):
    """The stored index does not match the knowledge base or the encoder."""


def index_dir(var_dir: Path, encoder_name: str) -> Path:
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", encoder_name).strip("-").lower()
    return var_dir / "index" / slug


@dataclass
class KnowledgeIndex:
    kb: KnowledgeBase
    encoder: Encoder
    vectors: np.ndarray                       # (n_phrasings, dim), L2-normalised
    phrasing_entry: np.ndarray                # (n_phrasings,) index into kb.entries
    phrasings: list[str]
    thresholds: Thresholds = field(default_factory=Thresholds)
    built_seconds: float = 0.0
    calibration: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lexical = CharNgramIndex(self.phrasings)
        self._entries = {e.id: e for e in self.kb.entries}

    # --- building -------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        kb: KnowledgeBase,
        encoder: Encoder,
        batch: int = 64,
        progress: Callable[[int, int], None] | None = None,
    ) -> KnowledgeIndex:
        start = time.perf_counter()
        phrasings: list[str] = []
        owner: list[int] = []
        for i, entry in enumerate(kb.entries):
            for p in entry.phrasings():
                phrasings.append(normalize(p))
                owner.append(i)
        chunks = []
        for lo in range(0, len(phrasings), batch):
            chunks.append(encoder.encode(phrasings[lo : lo + batch]))
            if progress:
                progress(min(lo + batch, len(phrasings)), len(phrasings))
        vectors = np.vstack(chunks) if chunks else np.zeros((0, encoder.dim), np.float32)
        return cls(kb, encoder, vectors, np.asarray(owner, dtype=np.int32), phrasings,
                   built_seconds=time.perf_counter() - start)

    # --- querying ---------------------------------------------------------------------
    def entry(self, entry_id: str) -> Entry | None:
        return self._entries.get(entry_id)

    def signals(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-phrasing dense and lexical similarities (kept apart so calibration can reweigh)."""
        q = normalize(query)
        qv = self.encoder.encode([q])[0]
        return self.vectors @ qv, self._lexical.scores(q)

    def rank(self, dense: np.ndarray, lexical: np.ndarray, alpha: float, k: int,
             exclude: frozenset[str] = frozenset()) -> list[Hit]:
        fused = alpha * dense + (1.0 - alpha) * lexical
        best: dict[int, int] = {}
        for p in np.argsort(-fused):
            e = int(self.phrasing_entry[p])
            if e in best:
                continue
            if self.kb.entries[e].id in exclude:
                continue
            best[e] = int(p)
            if len(best) >= k:
                break
        return [
            Hit(self.kb.entries[e].id, float(fused[p]), float(dense[p]), float(lexical[p]), self.phrasings[p])
            for e, p in best.items()
        ]

    def search(self, query: str, k: int = 5, exclude: frozenset[str] = frozenset()) -> list[Hit]:
        dense, lexical = self.signals(query)
        return self.rank(dense, lexical, self.thresholds.alpha, k, exclude)

    # --- persistence ------------------------------------------------------------------
    def meta(self) -> dict:
        return {
            "format": FORMAT_VERSION,
            "encoder": self.encoder.name,
            "dim": int(self.encoder.dim),
            "content_hash": self.kb.content_hash,
            "entries": len(self.kb),
            "phrasings": len(self.phrasings),
            "thresholds": self.thresholds.to_dict(),
            "calibration": self.calibration,
            "built_seconds": round(self.built_seconds, 3),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    def save(self, var_dir: Path) -> Path:
        folder = index_dir(var_dir, self.encoder.name)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "vectors.tmp.npz"
        np.savez(tmp, vectors=self.vectors, phrasing_entry=self.phrasing_entry)
        tmp.replace(folder / "vectors.npz")
        (folder / "phrasings.json").write_text(json.dumps(self.phrasings, ensure_ascii=False), encoding="utf-8")
        meta_tmp = folder / "meta.tmp.json"
        meta_tmp.write_text(json.dumps(self.meta(), ensure_ascii=False, indent=2), encoding="utf-8")
        meta_tmp.replace(folder / "meta.json")  # written last: a complete index has a meta
        return folder

    @classmethod
    def load(cls, var_dir: Path, kb: KnowledgeBase, encoder: Encoder) -> KnowledgeIndex:
        folder = index_dir(var_dir, encoder.name)
        meta_path = folder / "meta.json"
        if not meta_path.exists():
            raise StaleIndexError(f"no index for encoder {encoder.name} under {folder}; run `patentdesk index`")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT_VERSION:
            raise StaleIndexError("index format changed; run `patentdesk index`")
        if meta.get("encoder") != encoder.name or meta.get("dim") != encoder.dim:
            raise StaleIndexError(
                f"index was built with {meta.get('encoder')} (dim {meta.get('dim')}), "
                f"configured encoder is {encoder.name} (dim {encoder.dim}); run `patentdesk index`"
            )
        if meta.get("content_hash") != kb.content_hash:
            raise StaleIndexError(
                f"knowledge changed since the index was built ({meta.get('content_hash')} -> "
                f"{kb.content_hash}); run `patentdesk index`"
            )
        arrays = np.load(folder / "vectors.npz")
        phrasings = json.loads((folder / "phrasings.json").read_text(encoding="utf-8"))
        vectors = arrays["vectors"]
        if vectors.shape != (len(phrasings), encoder.dim):
            raise StaleIndexError("index files are inconsistent; run `patentdesk index`")
        return cls(kb, encoder, vectors, arrays["phrasing_entry"], phrasings,
                   thresholds=Thresholds.from_dict(meta.get("thresholds", {})),
                   built_seconds=float(meta.get("built_seconds", 0.0)),
                   calibration=meta.get("calibration", {}))
