"""FAQ conversation logic: answer, clarify, follow-ups and "not this one", without Rasa.

The Rasa actions are thin wrappers over these functions, so the behaviour is tested
directly and the served bot and `patentdesk ask` share one path.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from bot import replies
from bot.knowledge.facets import (
    PATENT_TYPES,
    TERMS,
    TYPE_NAMES,
    TYPE_WORDS,
    applicant_kind,
    applicant_kinds,
    patent_types,
    question_kind,
)
from bot.knowledge.facets import terms as facet_terms
from bot.knowledge.index import KnowledgeIndex
from bot.knowledge.other_rights import Offered, other_right
from bot.knowledge.policy import Decision, Hit, decide, likely_first
from bot.knowledge.text import compact
from bot.rules import CalcContext, Computed, NeedsFact, compute
from bot.rules.intent import rule_for
from bot.rules.parse import parse as parse_facts
from bot.rules.workdays import local_today


@dataclass
class Context:
    """What the conversation remembers between turns (Rasa slots)."""

    last_query: str | None = None
    last_entry: str | None = None
    candidates: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)
    topic: str | None = None            # procedural terms of the last entry ("年费 滞纳金")
    patent_type: str | None = None      # invention | utility | design, once the user named one
    applicant: str | None = None        # individual | company | institution | joint
    calc: dict[str, Any] | None = None  # the calculator's facts (bot.rules.CalcContext.to_dict)


@dataclass
class Turn:
    decision: str
    text: str
    entry_id: str | None = None
    confidence: float | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    context: Context = field(default_factory=Context)
    offer: str | None = None            # "human" | "candidates" | "related" | "patent_type" | "applicant" | "fact" | None
    query_used: str | None = None
    asks: str | None = None             # the fact a calculation asked for ("date", "service", ...)
    value: int | str | None = None      # a calculation's figure: yuan, or an ISO date
    shown: str | None = None            # the entry whose answer a clarify showed first (LIKELY_SHOWN)

    def payload(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"query": self.query_used}
        if self.shown:
            extra["shown"] = self.shown
        if self.offer in ("patent_type", "applicant"):
            extra["asks"] = self.offer
        if self.asks:
            extra["asks"] = self.asks
        if self.value is not None:
            extra["value"] = self.value
        return replies.payload(self.decision, self.entry_id, self.confidence, self.candidates, **extra)



# --- follow-ups ("那实用新型呢", "能减免吗", "超过了怎么办") ------------------------------------
log = logging.getLogger(__name__)

_FOLLOW_PREFIX = re.compile(r"^(那么|那|还有|如果是|要是|换成|改成|对于|如果|假如|那要是)")
_FOLLOW_SUFFIX = re.compile(r"(的话呢|的呢|呢|的话|怎么样|咋样|如何)$")
# what a follow-up's reading drops: "那实用新型怎么样" is "实用新型", but in "提晚了会咋样" the
# ending is the question itself (what happens), and "提晚了会" alone reads as nothing
_DROPPED_SUFFIX = re.compile(r"(的话呢|的呢|呢|的话|(?<![会该要能])(怎么样|咋样|如何))$")
_FOLLOW_MAX_CHARS = 12
# terms that say nothing about which procedure is meant
_GENERIC_TERMS = frozenset({"费用", "申请"})
# a message this short without a procedural term of its own leans on the conversation
_ELLIPTICAL_MAX_CHARS = 16


def followup_query(text: str, last_query: str | None) -> str | None:
    """The standalone question a short "那X呢" follow-up stands for, or None if it is not one."""
    if not last_query:
        return None
    core = compact(text)
    if not core or len(core) > _FOLLOW_MAX_CHARS:
        return None
    if not (_FOLLOW_PREFIX.search(core) or _FOLLOW_SUFFIX.search(core)):
        return None
    core = _DROPPED_SUFFIX.sub("", _FOLLOW_PREFIX.sub("", core))
    if not core:
        return None
    swapped = swap_type(last_query, core)
    return swapped if swapped else f"{compact(last_query)} {core}"


def swap_type(last_query: str, text: str) -> str | None:
    """The last question asked again for the one patent type `text` names (None: names none)."""
    new = patent_types(text)
    if len(new) != 1:
        return None
    name = TYPE_NAMES[next(iter(new))]
    last = compact(last_query)
    for word, _ in TYPE_WORDS:  # longest first
        if word in last:
            return last.replace(word, name, 1)
    return f"{name}{last}"


UNGROUNDED_CLARIFY = 0.7  # 0.6 let "今天股票能买吗" offer "专利可以作价入股吗" (0.61) once 517 entries were in


def talks_patents(text: str) -> bool:
    """Whether a message names anything of patent procedure (a term, a type, or 专利 itself)."""
    return bool(own_terms(text) or patent_types(text) or "专利" in compact(text))


def own_terms(text: str) -> frozenset[str]:
    return facet_terms(text) - _GENERIC_TERMS


_TYPE_ONLY_REST = 4   # what "那报实用新型行不" says besides the type: 报行不


def _type_rest(text: str) -> str:
    """What a message says besides the patent type ("发明能做吗" -> "能做吗")."""
    rest = compact(text)
    for word, _ in TYPE_WORDS:  # longest first
        rest = rest.replace(word, "")
    return rest


def only_names_type(text: str) -> bool:
    """Whether a message says little but a patent type ("那实用新型呢", "外观专利的"): then it asks
    the last question again for that type. "外观设计申请都要交哪些东西" names a type too, but
    asks its own question, and read into the last one it was answered with that one's entry."""
    return len(patent_types(text)) == 1 and not own_terms(text) and len(_type_rest(text)) <= _TYPE_ONLY_REST


def context_queries(text: str, ctx: Context) -> list[str]:
    """Readings of a message in the light of the conversation, most literal first."""
    if not ctx.last_query:
        return []
    core = _follow_core(text)
    out: list[str] = []
    swapped = swap_type(ctx.last_query, core) if only_names_type(core) else None
    if swapped is not None:
        out.append(swapped)
        if _type_rest(core) and (topic := _topic_reading(ctx, core)) is not None:
            out.append(topic)
    else:
        if (topic := _topic_reading(ctx, core)) is not None:
            out.append(topic)
        out.append(_glued_reading(ctx, core))
        if ctx.patent_type and not patent_types(text) and not own_terms(core):
            out.append(f"{TYPE_NAMES[ctx.patent_type]}{core}")
    return list(dict.fromkeys(q for q in out if q and q != compact(text)))


_FEE_TOPICS = frozenset({"费减", "申请费", "年费", "附加费", "滞纳金"})
_REDUCTION = frozenset({"费减"})
_APPLICANT_MAX_CHARS = 16   # "我是个人 一个月挣三千多" is 11


def _topic_reading(ctx: Context, core: str) -> str | None:
    """The message read within the procedure discussed ("实审" + "提晚了会咋样")."""
    return f"{ctx.topic.replace(' ', '')}{core}" if ctx.topic else None


def _glued_reading(ctx: Context, core: str) -> str:
    """The message read as the end of the last question ("pct进入中国国家阶段的期限是多久 超过了怎么办")."""
    return f"{compact(ctx.last_query or '')} {core}"


def _follow_core(text: str) -> str:
    return _DROPPED_SUFFIX.sub("", _FOLLOW_PREFIX.sub("", compact(text))) or compact(text)


def tells_applicant_in_fee_talk(text: str, ctx: Context, index: KnowledgeIndex | None = None) -> bool:
    """"我是学生" / "我们是小公司" / "两个公司一起申请呢" while fees are discussed: read only as
    "does the reduction apply to me" (as written, "我是在校学生" is "can students apply").
    Fees are discussed when the topic is a fee, or (with `index`) when the questions offered
    last are about one ("专利费能减不" offered the reduction's entries and set no topic)."""
    core = _follow_core(text)
    if not (ctx.last_query and applicant_kind(core)) or talks_patents(core) or len(core) > _APPLICANT_MAX_CHARS:
        return False  # "发明专利从提交到拿证中间要经过几个环节啊" (几个 reads as joint) asks its own question
    if frozenset((ctx.topic or "").split()) & _FEE_TOPICS:
        return True
    return index is not None and any(_covers(index, c, _FEE_TOPICS) for c in ctx.candidates)


# "这跟优先权有啥区别": 这 before 跟/和/与 compares the topic with something
_ANAPHORA = re.compile(r"这种|这个|这样|那个|那种|它|上面|刚才|这项|此|这[跟和与]")
_SHORT_CHARS = 8


def follows_up(text: str) -> bool:
    """Whether a message could carry the conversation's question further: it asks something,
    or names a procedure, a patent type or who applies. "下午三点以后方便联系" does none of
    these, and completed with the last topic it would be answered with a fee entry."""
    core = compact(text)
    return bool(_ASKS.search(core) or _ASKS_BY_ENDING.search(core) or own_terms(core) or patent_types(core)
                or applicant_kind(core) or _TELLS_LATE.search(core))


# the spoken yes/no question: "要交钱不", "能少交点不", "交了没"
_ASKS_BY_ENDING = re.compile(r"[不没][啊呀]?$|没有$")
# "已经超了一个多月了": a user who says a time limit has passed is asking what can still be done
_TELLS_LATE = re.compile(r"超了|超过了|过了期|过期了|晚了|逾期了|错过了|误了")


def _continues(text: str) -> bool:
    """Whether a message is worded as a continuation: very short, anaphoric ("这种"), a "那…呢"
    follow-up ("那还能恢复不"), or saying that the time limit discussed has passed ("已经超了一个多月了")."""
    core = compact(text)
    return bool(len(core) <= _SHORT_CHARS or _ANAPHORA.search(core) or _FOLLOW_PREFIX.search(core)
                or _FOLLOW_SUFFIX.search(core) or _TELLS_LATE.search(core))


def _elliptical(text: str) -> bool:
    """Whether a message says too little to stand alone: worded as a continuation, and naming
    no procedure of its own."""
    return _continues(text) and not own_terms(text)


def leans_on_context(text: str, ctx: Context) -> bool:
    """Whether a message needs the conversation to be understood."""
    if not ctx.last_query:
        return False
    core = compact(text)
    if len(core) <= _SHORT_CHARS or _ANAPHORA.search(core) or _FOLLOW_PREFIX.search(core):
        return True
    if not own_terms(core):
        return len(core) <= _ELLIPTICAL_MAX_CHARS
    return bool(_FOLLOW_SUFFIX.search(core)) and len(core) <= _FOLLOW_MAX_CHARS


# --- turns ---------------------------------------------------------------------------
def _candidate_rows(index: KnowledgeIndex, hits: list[Hit] | tuple[Hit, ...]) -> list[dict[str, Any]]:
    rows = []
    for h in hits:
        e = index.entry(h.entry_id)
        row = {"id": h.entry_id, "question": e.question if e else "", "score": round(h.score, 4)}
        if h.probability is not None:
            row["probability"] = round(h.probability, 4)
        rows.append(row)
    return rows


def _confidence(hit: Hit) -> float:
    return hit.probability if hit.probability is not None else hit.score


def _topic_of(index: KnowledgeIndex, entry_id: str) -> str | None:
    profile = index.profile(entry_id)
    if profile is None:
        return None
    return _in_term_order(profile.terms - _GENERIC_TERMS)


def _in_term_order(terms: frozenset[str] | set[str]) -> str | None:
    """A topic: the terms in the facets' order, space-separated (None: no term)."""
    return " ".join(t for t in TERMS if t in terms) or None


def _terms_said(text: str) -> str | None:
    """The procedural terms a message names, as a topic."""
    return _in_term_order(own_terms(text))


def _remember(index: KnowledgeIndex, ctx: Context, query: str, entry_id: str | None) -> Context:
    """The context after this turn: facts the user gave stay until they give others."""
    named = patent_types(query)
    applicant = applicant_kind(query) or ctx.applicant
    return Context(last_query=query, last_entry=entry_id, candidates=[], shown=[entry_id] if entry_id else [],
                   topic=_topic_of(index, entry_id) if entry_id else (_terms_said(query) or ctx.topic),
                   patent_type=next(iter(named)) if len(named) == 1 else ctx.patent_type, applicant=applicant)


def related_hits(index: KnowledgeIndex, hits: list[Hit] | tuple[Hit, ...], answered: str) -> list[Hit]:
    """One or two other entries the same question came close to (您可能还想问)."""
    floor = getattr(index.ranker, "clarify", None)
    out = []
    for h in hits:
        if h.entry_id == answered or h.probability is None or floor is None:
            continue
        if h.probability >= max(floor, RELATED_FLOOR):
            out.append(h)
    return out[:2]


RELATED_FLOOR = 0.2


def answer_entry(index: KnowledgeIndex, entry_id: str, ctx: Context, query: str | None,
                 confidence: float | None, candidates: list[dict[str, Any]],
                 related: list[Hit] | None = None, again: tuple[str, list[str]] | None = None) -> Turn:
    entry = index.entry(entry_id)
    if entry is None:  # an id from an older index version: do not guess
        return Turn("handoff", replies.NOT_SURE, context=ctx, offer="human")
    new_ctx = _remember(index, ctx, query or entry.question, entry_id)
    focus = again or type_focus(entry.answer, query or "")
    text = replies.answer_text(entry.question, entry.reply_text(), focus)
    offer = None
    if related:
        questions = [index.entry(h.entry_id).question for h in related]  # type: ignore[union-attr]
        text += "\n" + replies.related_text(questions)
        new_ctx.candidates = [h.entry_id for h in related]
        offer = "related"
    return Turn("answer", text, entry_id, confidence, candidates, new_ctx, offer, query)


_CLAUSE = re.compile(r"[^；;。]+[；;。]?")


def clauses_of(answer: str) -> list[str]:
    """An answer cut at ；and 。 only, never at a comma, so no clause loses the condition or
    surcharge written beside it."""
    return [c.strip() for c in _CLAUSE.findall(answer) if c.strip()]


def type_lines(answer: str, kind: str) -> list[str]:
    """The clauses of an answer that speak of one patent type alone, when the answer goes type by
    type ("发明专利900元……；实用新型500元；外观设计500元。"): "那实用新型呢" then sees its own line
    first, above the whole answer, instead of the same answer again (clauses: `clauses_of`)."""
    clauses = clauses_of(answer)
    named = [patent_types(c) for c in clauses]
    singles = {next(iter(n)) for n in named if len(n) == 1}
    if len(singles) < 2 or any(len(n) > 1 for n in named):  # not type by type ("发明20年，实用新型10年")
        return []
    return [c for c, n in zip(clauses, named, strict=True) if n == frozenset({kind})]


def type_focus(answer: str, query: str) -> tuple[str, list[str]] | None:
    """The patent type the question names (one only) and the answer's clauses about it alone."""
    asked = patent_types(query)
    if len(asked) != 1:
        return None
    kind = next(iter(asked))
    lines = type_lines(answer, kind)
    return (TYPE_NAMES[kind], lines) if lines else None


@dataclass
class Reading:
    query: str
    hits: list[Hit]
    decision: Decision
    # the last entry again, for what its answer says of the follow-up: a head and those clauses
    again: tuple[str, list[str]] | None = None


def _read(index: KnowledgeIndex, query: str, exclude: frozenset[str] = frozenset()) -> Reading:
    hits = index.search(query, k=5, exclude=exclude)
    return Reading(query, hits, decide(hits, index.thresholds, index.ranker))


def _strength(r: Reading) -> tuple[int, float]:
    rank = {"answer": 2, "clarify": 1, "handoff": 0}[r.decision.kind]
    return rank, _confidence(r.hits[0]) if r.hits else 0.0


def resolve(index: KnowledgeIndex, text: str, ctx: Context, exclude: frozenset[str] = frozenset(),
            use_context: bool = True) -> Reading:
    """The reading of a message that the knowledge answers best: as written, or (when it leans
    on the conversation) completed from the topic, the patent type or the last question."""
    reading = _resolve(index, text, ctx, exclude, use_context)
    if reading.decision.kind != "answer" and use_context:
        return _said_again(index, text, ctx, exclude) or reading
    return reading


def _resolve(index: KnowledgeIndex, text: str, ctx: Context, exclude: frozenset[str],
             use_context: bool) -> Reading:
    plain = _read(index, text, exclude)
    if not use_context or not ctx.last_query or not follows_up(text):
        return plain
    if tells_applicant_in_fee_talk(text, ctx, index):
        # what a desk agent hears is "does the reduction apply to me"; of the readings only those
        # about the reduction count ("…申请费多少钱 我是在校学生" is that fee's amount again)
        core = _follow_core(text)
        topic = _topic_reading(ctx, core)
        queries = (f"{core} 专利费能减缴吗", _glued_reading(ctx, core), *([topic] if topic else []))
        readings = [_read(index, q, exclude) for q in queries]
        about = [r for r in readings if r.hits and _covers(index, r.hits[0].entry_id, _REDUCTION)]
        best = max(about or readings[:1], key=_strength)
        if best.decision.kind != "answer" and (agreed := _agreed(about)) is not None:
            return agreed
        return best
    leaning = leans_on_context(text, ctx)
    if plain.decision.kind == "answer" and not leaning:
        return plain
    swapped = swap_type(ctx.last_query, text)
    # a follow-up asks something further about the topic, so the entry just given is not its
    # answer again, unless the follow-up only switches the patent type ("那实用新型呢")
    only_type = bool(swapped) and not own_terms(text)
    further = exclude | ({ctx.last_entry} if ctx.last_entry and not only_type else set())
    readings = [_read(index, q, frozenset(further)) for q in context_queries(text, ctx)]
    if not readings:
        return plain
    # a follow-up that names a new procedure ("能减免吗" after the application fee) is about it
    new_terms = own_terms(text) - frozenset((ctx.topic or "").split())
    if new_terms:
        about_new = [r for r in readings if r.hits and _covers(index, r.hits[0].entry_id, new_terms)]
        readings = about_new or readings
    stands_alone = not _continues(text)
    if stands_alone:
        # a question worded to stand alone: the conversation may settle which of its own
        # candidates it means, not replace them ("拿到发明专利以后 别人哪些行为要经过我同意" after a
        # PCT question was read "pct进中国还要再提实审吗 拿到发明专利以后…" and answered with a PCT entry)
        own = {h.entry_id for h in plain.hits}
        readings = [r for r in readings if r.hits and r.hits[0].entry_id in own]
        if not readings:
            return plain
    best = max(readings, key=_strength)
    if leaning:
        # readings that agree say something only about a message worded as a continuation: a
        # question that stands alone dominates every reading it is glued into
        if best.decision.kind != "answer" and plain.decision.kind != "answer" and not stands_alone:
            agreed = _agreed([plain, *readings]) or _agreed_on(index, [plain, *readings], new_terms)
            if agreed is not None:
                return agreed
        if plain.decision.kind == "answer" and best.decision.kind == "answer" and not (
                _elliptical(text) and len(compact(text)) <= _ELLIPTICAL_MAX_CHARS):
            # a message that stands alone ("年费晚交了怎么办", "来了通知书会发短信告诉我吗"), short as
            # it is, or a long one whose "这种" points inside it ("能不能写成“多功能智能杯”这种？"):
            # the surer reading wins, not always the conversation's
            return best if _strength(best) > _strength(plain) else plain
        if best.decision.kind != "answer" and plain.decision.kind != "answer":
            return max(best, plain, key=_strength)
        return best if best.decision.kind == "answer" else plain
    return best if _strength(best) > _strength(plain) else plain


# A follow-up read several ways: when at least two readings put the same entry first and one
# of them is this sure of it, the conversation has settled the question (chosen on the dev
# dialogues; the test dialogues measure it)
CONTEXT_AGREE = 0.5
CONTEXT_VOTES = 2
# a reading votes only for an entry it finds plausible ("优先权授权保护期有优先权" put
# priority-period first at 0.02, a guess, and outvoted the reading that is sure of another)
CONTEXT_VOTE_FLOOR = 0.2


def _agreed(readings: list[Reading]) -> Reading | None:
    """The reading to answer from when the readings of a follow-up agree on its entry."""
    tops: dict[str, list[Reading]] = {}
    for r in _voting(readings):
        tops.setdefault(r.hits[0].entry_id, []).append(r)
    if not tops:
        return None
    _, rs = max(tops.items(), key=lambda kv: (len(kv[1]), max(_confidence(r.hits[0]) for r in kv[1])))
    return _settled(rs)


def _voting(readings: list[Reading]) -> list[Reading]:
    """The readings that find their first entry plausible enough to vote for it."""
    return [r for r in readings if r.hits and r.hits[0].probability is not None
            and _confidence(r.hits[0]) >= CONTEXT_VOTE_FLOOR]


def _settled(agreeing: list[Reading]) -> Reading | None:
    """An answer from the surest of readings that agree, if there are enough and one is sure enough."""
    if len(agreeing) < CONTEXT_VOTES:
        return None
    surest = max(agreeing, key=lambda r: _confidence(r.hits[0]))
    if _confidence(surest.hits[0]) < CONTEXT_AGREE:
        return None
    return Reading(surest.query, surest.hits, Decision("answer", tuple(surest.hits[:3])))


def _agreed_on(index: KnowledgeIndex, readings: list[Reading], named: frozenset[str]) -> Reading | None:
    """The surest reading, when every reading that votes puts first an entry about the procedure
    the follow-up names: "这个能减免不" after the utility-model application fee is read as who
    qualifies (0.53) and as what each fee costs after the reduction (0.72). Neither is sure alone
    and they differ in the entry, but both answer "can it be reduced"."""
    voting = _voting(readings)
    if not named or not all(_covers(index, r.hits[0].entry_id, named) for r in voting):
        return None
    return _settled(voting)


@dataclass(frozen=True)
class _Again:
    """A follow-up that the entry just given answers in some of its clauses."""
    head: str                          # "【超过期限的】未在该期限内办理的，…"
    asks: Callable[[str], bool]        # the message asks this of it
    clause: re.Pattern[str]            # the answer's clauses that say it
    sure: float                        # how surely the last question read with the message must still put the entry first


_AGAIN: dict[str, _Again] = {
    # "超过了怎么办" after the PCT national-phase deadline: the grace period, then the loss of effect
    "late": _Again("超过期限的",
                   lambda core: bool(_TELLS_LATE.search(core)) or question_kind(core) == "consequence",
                   re.compile(r"未在|逾期|超过|届满|期满|未缴|未按|否则|视为撤回|视为未|终止|宽限|滞纳金"),
                   1.0),   # an answer: "这种怎么办" is too common an ending to go by less
    # "多久内交" after the change fee: "应当自提出请求之日起1个月内缴纳"; only a short message (the
    # time limit is all it asks), and as surely as readings that agree settle a follow-up
    "deadline": _Again("期限",
                       lambda core: len(core) <= _SHORT_CHARS and question_kind(core) == "deadline",
                       re.compile(r"\d+个?(?:月|日|天|年)[内前]|之日起|之前|以前|届满前|期限为|期限是"),
                       CONTEXT_AGREE),
    # "能找谁告他" after what to do about an agency: "可以向…省级知识产权局投诉举报"
    "where": _Again("去哪里办",
                    lambda core: len(core) <= _SHORT_CHARS and question_kind(core) == "where",
                    re.compile(r"向.{1,40}(?:投诉|举报|提出|提交|请求|申请|起诉|缴纳|办理)|到.{1,20}办理|窗口|业务办理系统"),
                    CONTEXT_AGREE),
    # "其中一家去年利润好几百万呢" after the joint applicants' reduction: "其中只要有一方不符合条件（例如企业
    # 上年度应纳税所得额不低于100万元…）"
    "income": _Again("收入条件",
                     lambda core: bool(re.search(r"利润|收入|工资|挣了?|所得|营业额|年薪|月薪", core)),
                     re.compile(r"所得额|收入|万元"),
                     CONTEXT_AGREE),
}


def again_lines(answer: str, kind: str) -> list[str]:
    """The clauses of an answer that say what a follow-up of this kind (a key of _AGAIN) asks."""
    pattern = _AGAIN[kind].clause
    return [c for c in clauses_of(answer) if pattern.search(c)]


def term_lines(answer: str, wanted: frozenset[str]) -> list[str]:
    """The clauses of an answer that speak of every one of these procedural terms."""
    return [c for c in clauses_of(answer) if wanted <= facet_terms(c)]


def _focus_again(answer: str, core: str) -> tuple[tuple[str, list[str]], float] | None:
    """What the answer just given says of a follow-up, and how surely the last question read with
    the follow-up must still put that entry first. A follow-up that names a procedure the answer
    does not speak of asks about that procedure ("年费超过了怎么办" after the PCT deadline)."""
    named = own_terms(core)
    if named and not named <= facet_terms(answer):
        return None
    for kind, again in _AGAIN.items():
        if again.asks(core) and (lines := again_lines(answer, kind)):
            return (again.head, lines), again.sure
    # "有优先权的呢" after "保护期从哪天开始算": "要求了优先权的，保护期限仍从实际申请日起算"; "这种还能恢复不"
    # after a missed office action: "可以请求恢复权利". Only when that is part of the answer, not all of it
    if named and len(core) <= _SHORT_CHARS and 0 < len(lines := term_lines(answer, named)) < len(clauses_of(answer)):
        return ("、".join(t for t in TERMS if t in named), lines), CONTEXT_AGREE
    return None


def _said_again(index: KnowledgeIndex, text: str, ctx: Context, exclude: frozenset[str]) -> Reading | None:
    """"超过了怎么办" after the PCT national-phase deadline, "多久内交" after the change fee, "找谁告"
    after a complaint about an agency, "有优先权的呢" after when the term starts: a follow-up asks
    something further, so the entry just given is left out of its readings, and nothing else was
    sure. But that entry's answer says it (the grace period, then the loss of effect; the month
    to pay in; the provincial office; the term still runs from the filing date): when the last
    question read with this message still puts it first, it answers, with those clauses first.
    Only for a message worded as a continuation that asks what those clauses say, and names no
    procedure the answer does not speak of."""
    last = ctx.last_entry
    core = compact(text)
    entry = index.entry(last) if last else None
    if entry is None or last in exclude or not ctx.last_query or not _continues(text):
        return None
    found = _focus_again(entry.answer, core)
    if found is None:
        return None
    focus, sure = found
    glued = _read(index, _glued_reading(ctx, _follow_core(text)), exclude)
    if not glued.hits or glued.hits[0].entry_id != last:
        return None
    if glued.decision.kind != "answer" and _confidence(glued.hits[0]) < sure:
        return None
    return Reading(glued.query, glued.hits, Decision("answer", tuple(glued.hits[:3])), again=focus)


def _covers(index: KnowledgeIndex, entry_id: str, wanted: frozenset[str]) -> bool:
    profile = index.profile(entry_id)
    return profile is not None and bool(profile.terms & wanted)


def ask(index: KnowledgeIndex, text: str, ctx: Context | None = None, use_context: bool = True,
        today: dt.date | None = None) -> Turn:
    """A new question, or a follow-up that leans on the previous ones."""
    ctx = ctx or Context()
    result = calculation(text, ctx, use_context, today or local_today())
    faq: Turn | None = None
    if result is not None and use_context and asks_anew_after_calculation(text, ctx):
        faq = _ask_faq(index, text, replace(ctx, calc=None), use_context)
        if faq.decision == "answer":
            return faq
    if isinstance(result, Computed) or (isinstance(result, NeedsFact) and not _rule_in_general(result, text)):
        return calc_turn(result, ctx, text)
    turn = faq or _ask_faq(index, text, replace(ctx, calc=None), use_context)
    if isinstance(result, NeedsFact):
        if turn.decision != "answer":
            return calc_turn(result, ctx, text)
        # "PCT进中国最晚啥时候": the entry states the rule; the day itself is offered
        wanted = "日期" if result.fact == "date" else "金额或日期"
        turn.text += f"\n如需算出您的具体{wanted}，{result.question}"
        turn.context.calc = result.context.to_dict() | {"offered": True}
        turn.asks = result.fact
    return turn


ANSWER_MAX_CHARS = 20   # "就我一个人 个人申请的 没有单位" is 13


def asks_anew_after_calculation(text: str, ctx: Context) -> bool:
    """After a calculation, or while it waits for a fact ("一个申请人还是几个？"), a long message
    that asks a question of its own, names no calculation and brings none of its facts (who
    applies aside: "我自己" is said about many things) is a new question. "我自己调了个奶茶配方……
    配方这种东西能申请专利吗" got the annual fee worked out the turn before: "这种" read as
    leaning on it, "我自己" as one applicant. The FAQ answers it when it can; otherwise the
    calculation carries on."""
    if not ctx.calc:
        return False
    core = compact(text)
    if len(core) <= ANSWER_MAX_CHARS or not _ASKS.search(core):
        return False
    facts = parse_facts(text, local_today())
    if rule_for(text, facts) is not None:
        return False
    facts.applicant_kind = None
    return not facts.any()


_VAGUE = re.compile(r"^(问下|问一下|请问|想问|想问下|咨询|咨询下|了解|了解下)?(一下)?(专利)?的?"
                    r"(?P<topic>费用|收费|钱|期限|时限)(的事|的事情|的问题|方面的?问题?|相关的?问题?)?"
                    r"(是|有|大概|一般)?(多少钱?|多久|多长时间|多长|怎么算|有哪些|几天)?(啊|呢|吗|呀|哈)?$")


def vague_topic(text: str) -> str | None:
    """"fee" or "time_limit" for a message that names only that ("问下费用的事", "期限是多久啊",
    "多少钱"): an agent asks which one; a list of three unrelated entries or the offer of a person
    helps nobody. None for anything more specific."""
    core = _SMALLTALK_ONLY.sub("", compact(text))
    if core in ("多少钱", "要多少钱", "多少费用", "费用多少", "收费多少", "要交多少钱"):
        return "fee"
    match = _VAGUE.match(core)
    if not match:
        return None
    if match.group("topic") in ("费用", "收费", "钱"):
        return "fee"
    return None if "专利" in core else "time_limit"  # "专利期限多久" asks for the term of protection


def only_says_who_applies(text: str) -> bool:
    """"我是学生", "我们是大学": who is asking, and nothing asked yet. "我是学生 自己能申请专利吗"
    or "一个外观申请能放好几个款式吗" (一个 reads as "joint") are questions for the knowledge."""
    core = compact(text)
    return bool(applicant_kind(core)) and not (own_terms(core) or patent_types(core) or "专利" in core
                                               or _ASKS.search(core) or _ASKS_BY_ENDING.search(core))


def _rule_in_general(result: NeedsFact, text: str) -> bool:
    """A deadline asked without a date of the user's own, or a fee without the patent type or
    year ("年费晚交了一个月"), is first the FAQ's to answer; the figure is then offered."""
    facts = parse_facts(text, local_today())
    if result.fact == "date":
        own_case = facts.dates or facts.year_only or facts.year_number or facts.months_late is not None
        return not (own_case or facts.invalid_date)
    return result.fact in ("patent_type", "year_number") and not (facts.dates or facts.invalid_date)


def _ask_faq(index: KnowledgeIndex, text: str, ctx: Context, use_context: bool) -> Turn:
    if use_context and ctx.last_query and strip_denial(text):
        return correct(index, text, ctx)  # "不对，我问的是外观设计", whatever intent the NLU saw
    if ctx.candidates and ctx.last_query and picks_a_type(text):
        picked = _pick_by_type(index, text, ctx)
        if picked is not None:
            return picked
    if ctx.candidates and ctx.last_query and only_says_who_applies(text):
        picked = _pick_by_applicant(index, text, ctx)
        if picked is not None:
            return picked
    if use_context and not ctx.last_query and (which := vague_topic(text)):
        reply = replies.ASK_WHICH_FEE if which == "fee" else replies.ASK_WHICH_TIME_LIMIT
        return Turn("clarify", reply, context=Context(last_query=text, applicant=ctx.applicant,
                                                      patent_type=ctx.patent_type),
                    offer="topic", query_used=text, asks="topic")
    if use_context and not ctx.last_query and only_says_who_applies(text):
        new_ctx = Context(applicant=applicant_kind(text))
        return Turn("smalltalk", replies.APPLICANT_NOTED, context=new_ctx, query_used=text)
    reading = resolve(index, text, ctx, use_context=use_context)
    turn = _turn_for(index, reading, ctx)
    if turn.decision == "answer":
        return turn
    offered = [Offered(e.id, e.question, e.redirect) for row in turn.candidates if (e := index.entry(row["id"]))]
    right = other_right(text, offered)
    if right is None or (entry := index.entry(right)) is None:
        return turn
    # a trademark or copyright question the knowledge has no confident answer for: where it
    # belongs, not a list of patent questions; without the usual "关于“…”：" heading, which
    # would quote a question the user did not ask (the entry says what it is about)
    redirected = answer_entry(index, right, ctx, text, None, turn.candidates)
    redirected.text = entry.reply_text()
    return redirected


def calculation(text: str, ctx: Context, use_context: bool, today: dt.date) -> Computed | NeedsFact | None:
    """A fee or time limit worked out for the user's own case ("发明专利第7年年费多少钱",
    "驳回决定是2026年3月2日发出的，复审请求最晚哪天提"), or the one fact it lacks. An earlier
    calculation carries on only when it asked for something or the message leans on it
    ("那实用新型呢"); a reply without the date that was asked for is a new message."""
    if len(text) > CALC_MAX_CHARS:
        return None  # a long message is not a calculation (and is not parsed date by date)
    earlier = CalcContext.from_dict(ctx.calc) if use_context and ctx.calc else None
    leaning = leans_on_context(text, ctx)
    if earlier is not None and not (earlier.pending or leaning):
        earlier = None
    if earlier is not None and earlier.pending == "date" and not parse_facts(text, today).dates:
        earlier = None
    if earlier is not None and (ctx.calc or {}).get("offered") and not leaning:
        earlier = None  # only offered: "外观设计的保护期是多久" next is a new question
    try:
        return compute(text, earlier, today=today)
    except (ValueError, OverflowError, ArithmeticError):
        log.warning("calculation failed for %r", text[:80], exc_info=True)
        return None  # the FAQ answers instead; never a traceback to the user


CALC_MAX_CHARS = 200


def calc_turn(result: Computed | NeedsFact, ctx: Context, text: str) -> Turn:
    new_ctx = replace(ctx, candidates=[], last_query=text, last_entry=None, calc=result.context.to_dict()
                      if result.context is not None else None)
    if isinstance(result, NeedsFact):
        return Turn("clarify", result.question, None, None, [], new_ctx, "fact", text, asks=result.fact)
    body = result.text + (f"\n{result.caveat}" if result.caveat else "")
    value = result.value.isoformat() if isinstance(result.value, dt.date) else result.value
    return Turn("answer", body, result.rule_id, None, [], new_ctx, None, text, value=value)


_PICK_MAX_CHARS = 12   # "是外观设计专利的那个" is 10


def picks_a_type(text: str) -> bool:
    """Whether a message answers a list by naming a patent type ("实用新型的"), rather than
    asking a question of its own that names one ("发明专利从提交到拿证中间要经过几个环节啊" took
    the invention entry of the list offered the turn before)."""
    core = compact(text)
    return bool(patent_types(text)) and not own_terms(text) and (
        only_names_type(core) or len(core) <= _PICK_MAX_CHARS)


def _pick_by_type(index: KnowledgeIndex, text: str, ctx: Context) -> Turn | None:
    """After "您问的是发明、实用新型还是外观设计？": the offered entry of the type named."""
    named = patent_types(text)
    for entry_id in ctx.candidates:
        profile = index.profile(entry_id)
        if profile is not None and profile.types and profile.types <= named:
            query = swap_type(ctx.last_query or "", text) or text
            return answer_entry(index, entry_id, ctx, query, None, [])
    return None


def _pick_by_applicant(index: KnowledgeIndex, text: str, ctx: Context) -> Turn | None:
    """After "请问申请人是个人、企业还是…？": the offered entry for who applies ("我是学生" is an individual)."""
    if _applicant_family(index, ctx.candidates) != ctx.candidates:
        return None  # the last reply did not ask who applies
    return _answer_for_applicant(index, ctx.candidates, _who_applies(text), ctx)


def _answer_for_applicant(index: KnowledgeIndex, family: list[str], kind: str | None, ctx: Context) -> Turn | None:
    """The family's entry for that kind of applicant, answered (None: the family has none)."""
    if kind is None:
        return None
    for entry_id in family:
        entry = index.entry(entry_id)
        if entry is not None and _entry_applicant(entry.question) == kind:
            return answer_entry(index, entry_id, ctx, entry.question, None, [])
    return None


def _entry_applicant(question: str) -> str | None:
    """The one kind of applicant an entry's question is for ("企业办费减要提交什么材料"); None when
    it names none or several ("小微企业或个人没钱请代理…" is for both)."""
    kinds = applicant_kinds(question)
    if "institution" in kinds:
        kinds -= {"company"}  # "事业单位" says 单位
    return next(iter(kinds)) if len(kinds) == 1 and kinds <= frozenset(_APPLICANT_ORDER) else None


def _who_applies(text: str) -> str | None:
    """One kind of applicant: an institution before a company ("事业单位" also says 单位), a
    company before an individual; joint applicants are not one kind."""
    kinds = applicant_kinds(text)
    return next((k for k in _APPLICANT_ORDER[::-1] if k in kinds), None) if "joint" not in kinds else None


def _applicant_family(index: KnowledgeIndex, ids: list[str]) -> list[str]:
    """Among the candidates, the entries that ask one question for different applicants
    ("个人/企业/高校办费减要提交什么材料"): same kind of question, same procedure, each naming one
    kind of applicant (joint applicants excepted), in the order individual, company, institution.
    Empty unless at least two kinds are there."""
    by_kind: dict[str, str] = {}
    shape = None
    for entry_id in ids:
        entry, profile = index.entry(entry_id), index.profile(entry_id)
        kind = _entry_applicant(entry.question) if entry is not None else None
        if profile is None or kind is None:
            continue
        if shape is None:
            shape = (profile.kind, profile.terms)
        if (profile.kind, profile.terms) == shape:
            by_kind.setdefault(kind, entry_id)
    return [by_kind[k] for k in _APPLICANT_ORDER if k in by_kind] if len(by_kind) >= 2 else []


_APPLICANT_ORDER = ("individual", "company", "institution")


def correct(index: KnowledgeIndex, text: str, ctx: Context) -> Turn:
    """"不对，我问的是外观设计": the same conversation, read again without the rejected entry."""
    rest = strip_denial(text)
    if not rest:
        return not_this_one(index, ctx)
    exclude = frozenset(e for e in [ctx.last_entry] if e and not _speaks_of_every_type(index, e, rest))
    reading = resolve(index, rest, ctx, exclude=exclude)
    return _turn_for(index, reading, ctx)


def _speaks_of_every_type(index: KnowledgeIndex, entry_id: str, rest: str) -> bool:
    """"不对，我问的是外观设计" after "发明专利保护多少年" was answered with the protection terms of
    all three types: the entry is not what was wrong, the type was, so it may be given again
    (with the type's own lines first where it has them). An entry of one type is excluded."""
    profile = index.profile(entry_id)
    return only_names_type(rest) and profile is not None and not profile.types


_DENIAL = re.compile(r"^(不对|不是这个|不是的|不是|错了|你理解错了|理解错了|答非所问|没说这个|搞错了)"
                     r"(意思|问题)?[，,。.\s]*(啦|了|哦|呀)?[，,。.\s]*"
                     r"(我(想|要)?(问|说|咨询)的是|我(想|要)(问|咨询|了解)|我说的是|我问的是|是问|问的是)?")


_BARE_DENIAL = re.compile(r"^(不是|不对|不用|没用|不要|不需要|没有|不行|不好|算了|错了|不是的|不是这个|不对哦|不用了|"
                          r"不是这样|没帮助|没有用|答非所问|理解错了|不|no|nope)+(了|啦|哦|呀|吧|谢谢|的)*$")


def is_bare_denial(text: str) -> bool:
    core = compact(text)
    if not core or _BARE_DENIAL.match(core):
        return True
    return not (talks_patents(core) or _QUESTION_CUE.search(core) or len(core) > 6)


def is_bare_affirmation(text: str) -> bool:
    """"是的" / "好" / "可以": a yes to what the last reply offered. "年费的" or "发明的" (the NLU
    reads them as a yes) add a detail to the question and are read with the conversation."""
    core = compact(text)
    if _BARE_YES.match(core):
        return True
    return not (talks_patents(core) or own_terms(core) or _QUESTION_CUE.search(core))


_BARE_YES = re.compile(r"^(是|是的|对|对的|好|好的|好啊|嗯|可以|行|要|需要|ok|okay|没问题|麻烦了|麻烦你了|谢谢)+"
                       r"[的吧啊呀了哦，,。.!！\s]*$")


_ASKS_FOR_PERSON = re.compile(r"(找|转|接|要|换|叫|请)(个|一个|一位)?(真人|人工|客服|工作人员)|人工客服|人工服务|真人客服")


def asks_for_person(text: str) -> bool:
    """"你答的不是我想问的 给我找个真人": a request for a person inside a denial or a complaint
    the NLU read as something else. "你是真人吗" asks what we are, not for a person."""
    return bool(_ASKS_FOR_PERSON.search(compact(text)))


_QUESTION_CUE = re.compile(r"怎样|怎么|咋|吗|呢|多少|哪|啥|什么|如何|会不会|能不能|可以")


def strip_denial(text: str) -> str:
    """What a denial goes on to say ("不对，我问的是外观设计" -> "外观设计"); "" when it says
    nothing more, or when the message is no denial of an answer at all ("不用了")."""
    core = compact(text)
    match = _DENIAL.match(core)
    if not match or not match.group(0):
        return ""
    rest = core[match.end():].strip()
    return rest if talks_patents(rest) else ""


def _turn_for(index: KnowledgeIndex, reading: Reading, ctx: Context) -> Turn:
    hits, kind, query = reading.hits, reading.decision.kind, reading.query
    cands = _candidate_rows(index, hits[:3])
    if kind == "answer":
        best = hits[0]
        return answer_entry(index, best.entry_id, ctx, query, _confidence(best), cands,
                            related_hits(index, hits[1:4], best.entry_id), again=reading.again)
    if kind == "clarify" and not talks_patents(query) and _confidence(hits[0]) < UNGROUNDED_CLARIFY:
        kind = "handoff"  # "今天股票能买吗": no patent word, so no list of patent questions either
    if kind == "clarify":
        shown_hits = list(reading.decision.hits)
        ids = [h.entry_id for h in shown_hits]
        new_ctx = _remember(index, ctx, query, None)
        new_ctx.candidates, new_ctx.shown = ids, list(ctx.shown)
        types = _single_types(index, ids)
        if len(types) >= 2 and not patent_types(query):
            return Turn("clarify", replies.ask_patent_type(types), None, _confidence(hits[0]),
                        _candidate_rows(index, shown_hits), new_ctx, "patent_type", query)
        family = _applicant_family(index, [h.entry_id for h in hits]) if not applicant_kind(query) else []
        if family and ctx.applicant:
            # the user said earlier who applies ("我是学生"): that one is the answer
            picked = _answer_for_applicant(index, family, ctx.applicant, replace(new_ctx, candidates=family))
            if picked is not None:
                return picked
        if family:
            # who applies is what separates them: one short question, not a list that may leave
            # the user's own kind out ("费减需要提交什么材料" listed the company and university proofs)
            new_ctx.candidates = family
            kinds = [k for i in family if (e := index.entry(i)) is not None and (k := _entry_applicant(e.question))]
            return Turn("clarify", replies.ask_applicant(kinds), None, _confidence(hits[0]),
                        _candidate_rows(index, [h for h in hits if h.entry_id in family]), new_ctx, "applicant", query)
        questions = [index.entry(i).question for i in ids]  # type: ignore[union-attr]
        likely = likely_first(reading.decision)
        first = index.entry(likely.entry_id) if likely is not None else None
        if first is not None:
            # probably this one: its answer now, headed by its question, the others by number; the
            # context stays a clarify's (the user has not said it was what they meant), but the
            # user has read this answer, so a follow-up ("期限多久") is about its procedure and
            # asks something further (dev dialogues 67 -> 70 of 118 turns in one process)
            text = replies.likely_text(first.question, first.reply_text(), questions[1:])
            new_ctx.topic = _topic_of(index, first.id) or new_ctx.topic
            new_ctx.last_entry = first.id
            return Turn("clarify", text, None, _confidence(hits[0]), _candidate_rows(index, shown_hits), new_ctx,
                        "candidates", query, shown=first.id)
        return Turn("clarify", replies.clarify_text(questions), None, _confidence(hits[0]),
                    _candidate_rows(index, shown_hits), new_ctx, "candidates", query)
    best_conf = _confidence(hits[0]) if hits else None
    new_ctx = _remember(index, ctx, query, None)
    return Turn("handoff", replies.NOT_SURE, None, best_conf, cands, new_ctx, "human", query)


def _single_types(index: KnowledgeIndex, ids: list[str]) -> list[str]:
    """The patent types that tell the offered entries apart, in the usual order."""
    found: set[str] = set()
    for i in ids:
        profile = index.profile(i)
        if profile is None or len(profile.types) != 1:
            return []
        found |= profile.types
    return [t for t in PATENT_TYPES if t in found]


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
    turn.context.shown = list(dict.fromkeys([*ctx.shown, entry_id]))
    return turn


NOT_THIS_MAX_SHOWN = 6


def not_this_one(index: KnowledgeIndex, ctx: Context) -> Turn:
    """"没用" / "不是这个": offer the next candidates for the same question, or a human."""
    if not ctx.last_query:
        return Turn("smalltalk", replies.DENY_ACK, context=ctx)
    excluded = frozenset([*ctx.shown, *ctx.candidates])
    if len(excluded) >= NOT_THIS_MAX_SHOWN:  # two lists turned down: a person, not a third list
        new_ctx = Context(last_query=ctx.last_query, shown=list(excluded))
        return Turn("handoff", replies.NO_MORE_CANDIDATES, None, None, [], new_ctx, "human", ctx.last_query)
    hits = index.search(ctx.last_query, k=3, exclude=excluded)
    floor = index.ranker.clarify if index.ranker is not None else None
    close = [h for h in hits if (h.probability >= floor if floor is not None and h.probability is not None
                                 else h.score >= index.thresholds.clarify)]
    if not close:
        new_ctx = Context(last_query=ctx.last_query, shown=list(excluded))
        return Turn("handoff", replies.NO_MORE_CANDIDATES, None, None, [], new_ctx, "human", ctx.last_query)
    ids = [h.entry_id for h in close]
    questions = [index.entry(i).question for i in ids]  # type: ignore[union-attr]
    text = replies.clarify_text(questions, intro=replies.NOT_THESE)
    new_ctx = Context(last_query=ctx.last_query, candidates=ids, shown=list(excluded), topic=ctx.topic,
                      patent_type=ctx.patent_type, applicant=ctx.applicant)
    return Turn("clarify", text, None, _confidence(close[0]), _candidate_rows(index, close), new_ctx,
                "candidates", ctx.last_query)


# --- what the NLU's intent leaves to the knowledge ------------------------------------------
CONTEXT_INTENTS = ("bot_challenge", "out_of_scope")
_ASKS = re.compile(r"[吗嘛么呢?？]|怎么|怎样|咋|多少|多久|几|啥|什么|哪|能不能|可不可以|可以|是否|要不要|会不会|有没有")
_SMALLTALK_ONLY = re.compile(r"^(你好|您好|哈喽|嗨|hi|hello|谢谢|多谢|感谢|谢了|好的|再见|拜拜|88|辛苦了|ok)+")


_SMALLTALK_KINDS = (
    ("goodbye", re.compile(r"^(再见|拜拜|拜|88|886|bye|byebye|回头见|下次见)+[了啦哈呀！!。.~～\s]*$")),
    ("thank", re.compile(r"^(谢谢|多谢|感谢|谢了|谢啦|thx|thanks|thankyou|辛苦了)+(你|您)?[了啦哈呀！!。.~～\s]*$")),
    ("greet", re.compile(r"^(你好|您好|哈喽|嗨|hi|hello)+[了啦哈呀！!。.~～\s]*$")),
)


def smalltalk_kind(text: str) -> str | None:
    """"88", "拜拜", "谢啦" when the NLU was unsure: the small-talk intent they plainly are (the
    two-stage fallback would ask a user who says goodbye to rephrase)."""
    core = compact(text).lower()
    for kind, pattern in _SMALLTALK_KINDS:
        if pattern.match(core):
            return kind
    return None


_PRESENCE = re.compile(r"(在吗|在不在|有人吗|有人在吗|在么|人呢|还在吗)+")


def may_be_question(text: str, intent: str, ctx: Context) -> bool:
    """Whether a message the NLU took for small talk could still be a patent question."""
    core = compact(text)
    if intent in CONTEXT_INTENTS or awaits_fact(ctx) or asks_in_context(text, ctx):
        return True
    rest = _SMALLTALK_ONLY.sub("", core)
    return bool(own_terms(rest)) and len(rest) >= 4


def asks_in_context(text: str, ctx: Context) -> bool:
    """A short question mid-conversation ("在哪交", "过了呢") that the NLU took for small talk:
    it asks about the topic under discussion, so it is read with the conversation."""
    rest = _SMALLTALK_ONLY.sub("", compact(text))
    return (bool(ctx.last_query) and len(rest) >= 3 and bool(_ASKS.search(rest) or _TELLS_LATE.search(rest))
            and not _PRESENCE.fullmatch(rest))


def overrides_intent(turn: Turn, text: str, asked_in_context: bool = False) -> bool:
    """A confident answer wins over the intent; so does a fact about the applicant in context,
    and a short question back when the message plainly asks something about patents (a list
    of questions serves "外观申请能放几个款式吗" better than a greeting does)."""
    if turn.decision == "answer" or turn.asks:
        return True
    rest = _SMALLTALK_ONLY.sub("", compact(text))
    if turn.decision == "clarify" and (asked_in_context or (own_terms(rest) and _ASKS.search(rest))):
        return True
    told_applicant = applicant_kind(text) is not None and not own_terms(text)
    return told_applicant and (turn.decision == "clarify" or turn.context.applicant is not None)


def is_question_not_choice(text: str, ctx: Context) -> bool:
    """A message the NLU took for "pick number N" that is really a question."""
    core = compact(text)
    if awaits_fact(ctx):
        return True
    if not ctx.candidates:
        return bool(own_terms(core)) or len(core) > 4
    return bool(own_terms(core)) and len(core) > 6


def awaits_fact(ctx: Context) -> bool:
    """The last reply asked for a fact of a calculation ("请问是哪一年？"): the reply is its answer."""
    return bool(ctx.calc and ctx.calc.get("pending") and not ctx.calc.get("offered"))
