"""FAQ conversation logic: answer, clarify, follow-ups and "not this one", without Rasa.

The Rasa actions are thin wrappers over these functions, so the behaviour is tested
directly and the served bot and `patentdesk ask` share one path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot import replies
from bot.knowledge.index import KnowledgeIndex
from bot.knowledge.policy import Hit, decide
from bot.knowledge.text import compact


@dataclass
class Context:
    """What the conversation remembers between turns (Rasa slots)."""

    last_query: str | None = None
    last_entry: str | None = None
    candidates: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)


@dataclass
class Turn:
    decision: str
    text: str
    entry_id: str | None = None
    confidence: float | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    context: Context = field(default_factory=Context)
    offer: str | None = None            # "human" | "candidates" | None
    query_used: str | None = None

    def payload(self) -> dict[str, Any]:
        return replies.payload(self.decision, self.entry_id, self.confidence, self.candidates,
                               query=self.query_used)


# --- follow-ups ("那实用新型呢") ----------------------------------------------------------
_TYPE_WORDS = ("发明专利", "实用新型专利", "外观设计专利", "实用新型", "外观设计", "实用型", "发明", "外观")
_FOLLOW_PREFIX = re.compile(r"^(那么|那|还有|如果是|要是|换成|改成|对于)")
_FOLLOW_SUFFIX = re.compile(r"(的话呢|的呢|呢|的话|怎么样|咋样|如何)$")
_FOLLOW_MAX_CHARS = 12


def followup_query(text: str, last_query: str | None) -> str | None:
    """The standalone question a short follow-up stands for, or None if it is not one."""
    if not last_query:
        return None
    core = compact(text)
    if not core or len(core) > _FOLLOW_MAX_CHARS:
        return None
    if not (_FOLLOW_PREFIX.search(core) or _FOLLOW_SUFFIX.search(core)):
        return None
    core = _FOLLOW_SUFFIX.sub("", _FOLLOW_PREFIX.sub("", core))
    if not core:
        return None
    last = compact(last_query)
    new_type = next((w for w in _TYPE_WORDS if w in core), None)
    old_type = next((w for w in _TYPE_WORDS if w in last), None)
    if new_type and old_type:
        return last.replace(old_type, new_type, 1)
    return f"{last} {core}"


# --- turns ---------------------------------------------------------------------------
def _candidate_rows(index: KnowledgeIndex, hits: list[Hit] | tuple[Hit, ...]) -> list[dict[str, Any]]:
    rows = []
    for h in hits:
        e = index.entry(h.entry_id)
        rows.append({"id": h.entry_id, "question": e.question if e else "", "score": round(h.score, 4)})
    return rows


def answer_entry(index: KnowledgeIndex, entry_id: str, ctx: Context, query: str | None,
                 confidence: float | None, candidates: list[dict[str, Any]]) -> Turn:
    entry = index.entry(entry_id)
    if entry is None:  # an id from an older index version: do not guess
        return Turn("handoff", replies.NOT_SURE, context=ctx, offer="human")
    new_ctx = Context(last_query=query or entry.question, last_entry=entry_id, candidates=[],
                      shown=[entry_id])
    return Turn("answer", entry.reply_text(), entry_id, confidence, candidates, new_ctx, None, query)


def ask(index: KnowledgeIndex, text: str, ctx: Context | None = None) -> Turn:
    """A new question (or a follow-up to the previous one)."""
    ctx = ctx or Context()
    query = text
    hits = index.search(text, k=5)
    decision = decide(hits, index.thresholds)
    rewritten = followup_query(text, ctx.last_query)
    if rewritten and decision.kind != "answer":
        f_hits = index.search(rewritten, k=5)
        f_decision = decide(f_hits, index.thresholds)
        if f_decision.kind == "answer" or (f_hits and hits and f_hits[0].score > hits[0].score):
            hits, decision, query = f_hits, f_decision, rewritten
    return _turn_for(index, decision.kind, hits, decision.hits, ctx, query)


def _turn_for(index: KnowledgeIndex, kind: str, hits: list[Hit], shown_hits, ctx: Context, query: str) -> Turn:
    cands = _candidate_rows(index, hits[:3])
    if kind == "answer":
        return answer_entry(index, hits[0].entry_id, ctx, query, hits[0].score, cands)
    if kind == "clarify":
        ids = [h.entry_id for h in shown_hits]
        questions = [index.entry(i).question for i in ids]  # type: ignore[union-attr]
        new_ctx = Context(last_query=query, last_entry=None, candidates=ids, shown=list(ctx.shown))
        return Turn("clarify", replies.clarify_text(questions), None, hits[0].score,
                    _candidate_rows(index, shown_hits), new_ctx, "candidates", query)
    best = hits[0].score if hits else None
    new_ctx = Context(last_query=query, last_entry=None, candidates=[], shown=[])
    return Turn("handoff", replies.NOT_SURE, None, best, cands, new_ctx, "human", query)


_CHINESE_NUMERALS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "壹": 1, "贰": 2, "叁": 3}


def parse_choice(text: str) -> int | None:
    """'2', '第二个', '选3', '就第一个吧' -> the 1-based number, else None."""
    t = compact(text)
    digits = re.findall(r"\d+", t)
    if digits:
        return int(digits[0])
    for ch in t:
        if ch in _CHINESE_NUMERALS:
            return _CHINESE_NUMERALS[ch]
    return None


def choose(index: KnowledgeIndex, text: str, ctx: Context) -> Turn:
    if not ctx.candidates:
        return Turn("fallback", replies.CHOOSE_NOTHING_PENDING, context=ctx)
    n = parse_choice(text)
    if n is None or not 1 <= n <= len(ctx.candidates):
        return Turn("clarify", replies.choose_out_of_range(len(ctx.candidates)), context=ctx, offer="candidates")
    entry_id = ctx.candidates[n - 1]
    entry = index.entry(entry_id)
    turn = answer_entry(index, entry_id, ctx, entry.question if entry else ctx.last_query, None, [])
    turn.context.last_query = ctx.last_query or turn.context.last_query
    turn.context.shown = list(dict.fromkeys([*ctx.shown, entry_id]))
    return turn


def not_this_one(index: KnowledgeIndex, ctx: Context) -> Turn:
    """"没用" / "不是这个": offer the next candidates for the same question, or a human."""
    if not ctx.last_query:
        return Turn("smalltalk", replies.DENY_ACK, context=ctx)
    excluded = frozenset([*ctx.shown, *ctx.candidates])
    hits = index.search(ctx.last_query, k=3, exclude=excluded)
    close = [h for h in hits if h.score >= index.thresholds.clarify]
    if not close:
        new_ctx = Context(last_query=ctx.last_query, shown=list(excluded))
        return Turn("handoff", replies.NO_MORE_CANDIDATES, None, None, [], new_ctx, "human", ctx.last_query)
    ids = [h.entry_id for h in close]
    questions = [index.entry(i).question for i in ids]  # type: ignore[union-attr]
    text = replies.clarify_text(questions, intro=replies.NOT_THESE)
    new_ctx = Context(last_query=ctx.last_query, candidates=ids, shown=list(excluded))
    return Turn("clarify", text, None, close[0].score, _candidate_rows(index, close), new_ctx,
                "candidates", ctx.last_query)
