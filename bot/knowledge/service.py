"""Assembling the served index: load it if it matches, otherwise rebuild and recalibrate."""

from __future__ import annotations

import logging
from pathlib import Path

from bot.config import Settings
from bot.knowledge.encoders import Encoder, make_encoder
from bot.knowledge.entries import KnowledgeBase, load_knowledge
from bot.knowledge.evaluation import (
    FUSION_WEIGHTS,
    NONE,
    acceptable,
    calibrate,
    choose_weights,
    dev_top1,
    load_questions,
    score_all,
)
from bot.knowledge.index import KnowledgeIndex, StaleIndexError
from bot.knowledge.memory import RememberingEncoder
from bot.knowledge.policy import Thresholds
from bot.knowledge.ranker_training import fit_ranker

log = logging.getLogger(__name__)


def knowledge_dir(settings: Settings) -> Path:
    return settings.home / "knowledge"


def eval_dir(settings: Settings) -> Path:
    return settings.home / "data" / "eval"


def build_index(settings: Settings, progress=None, kb: KnowledgeBase | None = None,
                encoder: Encoder | None = None, save_to: Path | None = None) -> KnowledgeIndex:
    """Encode every phrasing, choose thresholds on the dev split, persist under var/
    (or under `save_to`: a background rebuild writes beside the served index)."""
    kb = kb if kb is not None else load_knowledge(knowledge_dir(settings))
    encoder = encoder if encoder is not None else make_encoder(settings.encoder)
    # remember every text's vector (phrasings, answers, dev questions): a rebuild after a
    # console publish then encodes only the new texts
    memory = encoder if isinstance(encoder, RememberingEncoder) else RememberingEncoder(encoder)
    memory.load(settings.vector_memory)
    memory.remember_saved_index(settings.var_dir)
    index = KnowledgeIndex.build(kb, memory, progress=progress)
    questions = [q for q in load_questions(eval_dir(settings)) if q.split == "dev"]
    known = kb.by_id()
    questions = [q for q in questions if q.label == "none" or q.label in known]
    if questions:
        dev = score_all(index, questions)
        fusion = Thresholds.from_dict(FUSION_WEIGHTS)
        index.thresholds, index.calibration = calibrate(index, dev, weights=fusion)
        best = choose_weights(index, dev)   # what a search on this dev split would pick: shown, not used
        index.calibration["fusion_dev_best"] = {
            "weights": {k: v for k, v in best.to_dict().items() if k in FUSION_WEIGHTS},
            "dev_top1": round(dev_top1(index, dev, best), 4), "dev_top1_kept": index.calibration["dev_top1"]}
        index.ranker, index.calibration["ranker"] = fit_ranker(
            index, [s.signals for s in dev], [set(acceptable(s.question, kb.redirects)) for s in dev], index.thresholds,
            [s.question.label == NONE for s in dev])
    else:
        log.warning("no dev questions under %s: default thresholds kept", eval_dir(settings))
    index.encoder = memory.inner  # serving encodes each query once; the memory stays with builds
    index.save(save_to or settings.var_dir)
    memory.save(settings.vector_memory)
    return index


def load_or_build(settings: Settings, rebuild: bool = True, kb: KnowledgeBase | None = None) -> KnowledgeIndex:
    """Never serves a stale index: a mismatch rebuilds (default) or raises StaleIndexError.

    `kb`: the knowledge to serve (the action server adds the console's published entries);
    knowledge/ alone by default."""
    kb = kb if kb is not None else load_knowledge(knowledge_dir(settings))
    encoder = make_encoder(settings.encoder)
    try:
        return KnowledgeIndex.load(settings.var_dir, kb, encoder)
    except StaleIndexError as exc:
        if not rebuild:
            raise
        log.info("rebuilding the knowledge index: %s", exc)
        return build_index(settings, kb=kb, encoder=encoder)
