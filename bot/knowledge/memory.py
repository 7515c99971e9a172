"""Reusing the vectors of unchanged texts across index builds.

Encoding is the part of a rebuild that grows with the knowledge base (4,000+ phrasings,
answers and the dev questions), and a publish changes a handful of texts: an encoder
that remembers every vector it made, keyed by the exact text and its side (query or
passage), turns a rebuild's encoding into the new texts only. The memory is one .npz per
encoder, under var/index/ unless PATENTDESK_VECTOR_MEMORY names a shared folder, written
atomically after a successful build. Vectors are keyed by encoder and exact text, so
checkouts and test runs can share one memory safely.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

from bot.knowledge.encoders import Encoder
from bot.knowledge.index import encoder_slug, index_dir

log = logging.getLogger(__name__)
CACHE_FILE = "text-vectors.npz"


def _key(text: str, passage: bool) -> str:
    return ("p:" if passage else "q:") + text


class RememberingEncoder:
    """An Encoder that encodes only texts it has not seen; same name and dimension as the
    encoder it wraps, so an index built through it is that encoder's index."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._known: dict[str, np.ndarray] = {}
        self.encoded = 0   # texts encoded by the inner encoder
        self.reused = 0    # texts answered from memory

    def encode(self, texts: list[str], passage: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        missing = [i for i, t in enumerate(texts) if _key(t, passage) not in self._known]
        if missing:
            fresh = self.inner.encode([texts[i] for i in missing], passage=passage)
            for i, vec in zip(missing, fresh, strict=True):
                self._known[_key(texts[i], passage)] = vec
        for i, t in enumerate(texts):
            out[i] = self._known[_key(t, passage)]
        self.encoded += len(missing)
        self.reused += len(texts) - len(missing)
        return out

    def remember_saved_index(self, var_dir: Path) -> int:
        """Seed from the index saved under var_dir (its phrasings' and answers' vectors), so
        a rebuild after a build that kept no memory still encodes only what changed."""
        folder = index_dir(var_dir, self.name)
        try:
            phrasings = json.loads((folder / "phrasings.json").read_text(encoding="utf-8"))
            answers_path = folder / "answers.json"
            answers = json.loads(answers_path.read_text(encoding="utf-8")) if answers_path.exists() else []
            with np.load(folder / "vectors.npz", allow_pickle=False) as data:
                vectors, answer_vectors = data["vectors"], data["answer_vectors"]
        except (OSError, ValueError, KeyError):
            return 0
        if vectors.shape != (len(phrasings), self.dim):
            return 0
        for text, vec in zip(phrasings, vectors, strict=True):
            self._known.setdefault(_key(text, False), vec)
        if len(answers) == len(answer_vectors):
            for text, vec in zip(answers, answer_vectors, strict=True):
                self._known.setdefault(_key(text, True), vec)
        return len(phrasings) + len(answers)

    # -- persistence ----------------------------------------------------------------------
    def path(self, folder: Path) -> Path:
        """`folder`: the memory folder (Settings.vector_memory), one subfolder per encoder."""
        return folder / encoder_slug(self.name) / CACHE_FILE

    def load(self, folder: Path) -> int:
        path = self.path(folder)
        if not path.exists():
            return 0
        try:
            with np.load(path, allow_pickle=False) as data:
                keys = [str(k) for k in data["keys"]]
                vectors = data["vectors"]
        except (OSError, ValueError, KeyError) as exc:  # a damaged memory only costs time
            log.warning("ignoring the vector memory %s: %s", path, exc)
            return 0
        if vectors.shape != (len(keys), self.dim):
            return 0
        for k, v in zip(keys, vectors, strict=True):
            self._known.setdefault(k, v)
        return len(keys)

    def save(self, folder: Path, keep: int = 50_000) -> None:
        """Write the memory (the newest `keep` texts) atomically."""
        path = self.path(folder)
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self._known)[-keep:]
        vectors = np.vstack([self._known[k] for k in keys]) if keys else np.zeros((0, self.dim), np.float32)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, keys=np.asarray(keys, dtype=str), vectors=vectors.astype(np.float32))
        tmp.replace(path)
