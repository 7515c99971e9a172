"""Events to enquiries: the bot, agent, ticket and abandoned paths, episode boundaries,
idempotency (replays, retried WeChat messages), out-of-order delivery, masking on write
and unreadable events; each on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import random
from datetime import timedelta

from sqlalchemy import select

from bot.records.episodes import apply_events, close_idle
from bot.records.schema import enquiry_events, rejected_events
from bot.records.store import fetch_exchanges, get_enquiry, list_enquiries
from tests.records_kit import User, dump

pytest_plugins = ["tests.records_fixtures"]

IDLE = 1800.0
CATEGORIES = {"fee-application-amount": "费用", "annual-fee-deadline": "年费"}


def store(engine, events, **kw):
    return apply_events(engine, events, IDLE, kw.pop("categories", CATEGORIES))


def sweep(engine, user: User, minutes: float) -> int:
    return close_idle(engine, IDLE, now=user.t(minutes))


def test_bot_path_one_enquiry_with_annotated_messages(engine) -> None:
    a = User("u_bot")
    done = store(engine, [
        a.says(0, "申请专利的申请费是多少", entry_id="fee-application-amount",
               candidates=["fee-application-amount", "fee-reduction-who"]),
        a.says(5, "那年费什么时候交", entry_id="annual-fee-deadline", texts=["第一段", "第二段"]),
    ])
    assert (done.stored, done.duplicates, done.rejected) == (2, 0, 0)
    [enq] = list_enquiries(engine)
    assert enq["resolved_by"] is None and enq["closed_at"] is None  # still open
    assert sweep(engine, a, 5 + 29) == 0  # not idle yet
    assert sweep(engine, a, 5 + 31) == 1
    enq = get_enquiry(engine, enq["id"])
    assert enq["resolved_by"] == "bot" and enq["closed_by"] == "idle" and enq["closed_at"] == a.t(5)
    assert enq["category"] == "费用" and enq["user"] == "u_bot" and not enq["handed_off"]
    lines = [(m["direction"], m["who"], m["text"], m["decision"], m["entry_id"]) for m in enq["messages"]]
    assert lines == [
        ("in", "user", "申请专利的申请费是多少", "answer", None),
        ("out", "bot", "（答复）", "answer", "fee-application-amount"),
        ("in", "user", "那年费什么时候交", "answer", None),
        ("out", "bot", "第一段", "answer", "annual-fee-deadline"),
        ("out", "bot", "第二段", "answer", "annual-fee-deadline"),
    ]
    first_answer = enq["messages"][1]
    assert first_answer["candidates"] == ["fee-application-amount", "fee-reduction-who"]
    assert first_answer["confidence"] == 0.9 and first_answer["latency_ms"] == 1000
    assert first_answer["at"] == a.t(0) + timedelta(seconds=1) and first_answer["reply_to"] == enq["messages"][0]["event_key"]


def test_agent_path_wait_handle_outcome_rating_and_follow_up(engine) -> None:
    d = User("u_agent")
    handoff_exchange = d.says(0, "我要投诉，审查员一直不回复", decision="handoff", texts=["已为您转人工，前面还有1位"],
                              conv_id="wechat-u_agent")
    store(engine, [
        d.handoff(0.1, "queued", reason="complaint"),  # on the stream before the exchange that caused it
        handoff_exchange,
        d.notice(0.2, "position", "您前面还有1位"),
        d.handoff(2, "assigned", agent="li", wait_seconds=114.0),
        d.notice(2, "assigned", "客服小李为您服务"),
        d.agent_says(3, "li", "您好，请提供申请号"),
        d.says(4, "申请号202310123456.7，电话13812345678", decision="to_agent", texts=[], path="handoff"),
        d.agent_says(5, "li", "已帮您催办"),  # the agent's reply ...
        d.says(5, "好的谢谢", decision="agent", texts=["已帮您催办"], agent="li"),  # ... went out passively here
        d.handoff(9, "closed", agent="li", outcome="resolved", category="审查", grade="B", handle_seconds=420.0),
        d.notice(9, "rating_request", "请为本次服务打分：1非常满意 2满意 3一般 4不满意"),
        d.says(10, "4", decision="rating", texts=["感谢您的评价"], who="system"),
        d.rating(10, 4),
    ])
    [enq] = list_enquiries(engine)
    assert enq["resolved_by"] == "agent" and enq["closed_by"] == "agent" and enq["closed_at"] == d.t(9)
    assert (enq["agent"], enq["wait_seconds"], enq["handle_seconds"]) == ("li", 114.0, 420.0)
    assert (enq["outcome"], enq["category"], enq["complaint_grade"], enq["reason"]) == ("resolved", "审查", "B", "complaint")
    assert enq["rating"] == 4 and enq["rating_after"] == "agent" and enq["follow_up"] is True
    assert enq["started_at"] == d.t(0) and enq["handed_off"] and enq["conv_id"] == "wechat-u_agent"
    full = get_enquiry(engine, enq["id"])
    whos = [(m["who"], m["msg_type"]) for m in full["messages"]]
    assert ("agent", "text") in whos and ("system", "notice:rating_request") in whos
    assert [m["who"] for m in full["messages"] if m["text"] == "已帮您催办"] == ["agent"]  # once
    masked = [m["text"] for m in full["messages"] if m["text"].startswith("申请号")]
    assert masked == ["申请号202310123456.7，电话[手机号]"]
    assert [e["step"] for e in full["events"] if e["kind"] == "handoff"] == ["queued", "assigned", "closed"]
    # the user writes again after the agent closed: a new enquiry
    store(engine, [d.says(11, "还有个问题，年费怎么交", entry_id="annual-fee-deadline")])
    assert [e["resolved_by"] for e in list_enquiries(engine)] == ["agent", None]


def test_agent_handed_back_then_bot_continues_in_the_same_enquiry(engine) -> None:
    u = User("u_back")
    store(engine, [
        u.says(0, "转人工", decision="handoff", texts=["正在转接"]),
        u.handoff(0, "queued"),
        u.handoff(1, "assigned", agent="wang"),  # no wait_seconds: computed from the queue time
        u.handoff(6, "handed_back", agent="wang"),
        u.says(7, "年费什么时候交", entry_id="annual-fee-deadline"),
    ])
    sweep(engine, u, 60)
    [enq] = list_enquiries(engine)
    assert enq["resolved_by"] == "agent" and enq["outcome"] == "handed_back"
    assert enq["wait_seconds"] == 60.0 and enq["handle_seconds"] == 300.0 and enq["closed_by"] == "idle"


def test_ticket_path_and_the_late_answer_joins_its_enquiry(engine) -> None:
    g = User("u_ticket")
    store(engine, [
        g.says(0, "人工", decision="handoff", texts=["现在是非工作时间，可以留言"]),
        g.handoff(0, "queued"),
        g.notice(0, "leave_offer", "现在是非工作时间，您可以留言"),
        g.says(1, "我的邮箱a@b.cn，身份证110101199003071234，想问费减", decision="ticket", texts=["已登记留言T1"]),
        g.handoff(1, "ticket", ticket_id="T20250303-0001", due_at=g.t(60 * 24).isoformat()),
    ])
    assert sweep(engine, g, 40) == 1
    store(engine, [g.ticket_answer(60 * 20, "T20250303-0001", "li", "您好，费减请拨打010-62356655咨询")])
    [enq] = list_enquiries(engine)  # the answer, a day later, opened no enquiry
    assert enq["resolved_by"] == "ticket" and enq["ticket_id"] == "T20250303-0001"
    assert enq["ticket_due_at"] == g.t(60 * 24) and enq["ticket_answered_at"] == g.t(60 * 20)
    texts = [m["text"] for m in get_enquiry(engine, enq["id"])["messages"]]
    assert "我的邮箱[邮箱]，身份证[身份证号]，想问费减" in texts
    assert "您好，费减请拨打[电话]咨询" in texts


def test_abandoned_paths(engine) -> None:
    left = User("u_left")
    later = User("u_left_then_bot")
    fallback = User("u_fallback")
    waiting = User("u_waiting")
    store(engine, [
        left.says(0, "转人工", decision="handoff"), left.handoff(0, "queued"),
        left.says(3, "算了", decision="handoff_left", texts=["已取消排队"]), left.handoff(3, "left", wait_seconds=180.0),
        later.says(0, "转人工", decision="handoff"), later.handoff(0, "queued"), later.handoff(2, "left"),
        later.says(4, "年费什么时候交", entry_id="annual-fee-deadline"),
        fallback.says(0, "外观设计能加急吗", decision="fallback", texts=["抱歉，这个问题我还不会"]),
        waiting.says(0, "转人工", decision="handoff"), waiting.handoff(0, "queued"),
    ])
    assert sweep(engine, left, 60) == 3  # the waiting user's handoff keeps theirs open
    by_user = {e["user"]: e for e in list_enquiries(engine)}
    assert by_user["u_left"]["resolved_by"] == "abandoned" and by_user["u_left"]["wait_seconds"] is None
    assert by_user["u_left_then_bot"]["resolved_by"] == "bot"  # "abandoned unless later resolved"
    assert by_user["u_fallback"]["resolved_by"] == "abandoned"
    assert by_user["u_waiting"]["closed_at"] is None
    # still waiting 2 hours later: same enquiry; a day of silence in the queue ends it
    store(engine, [waiting.notice(120, "position", "您前面还有1位")])
    assert len(list_enquiries(engine)) == 4
    assert sweep(engine, waiting, 120 + 60 * 24 + 1) == 1
    assert {e["user"]: e for e in list_enquiries(engine)}["u_waiting"]["resolved_by"] == "abandoned"


def test_idle_gap_starts_a_new_enquiry_and_closes_the_old(engine) -> None:
    u = User("u_gap", channel="web")
    store(engine, [u.says(0, "你好", decision="smalltalk"), u.says(31, "年费多少钱", entry_id="annual-fee-deadline")])
    first, second = list_enquiries(engine)
    assert first["closed_at"] == u.t(0) and first["resolved_by"] == "abandoned"  # only a greeting
    assert second["started_at"] == u.t(31) and second["closed_at"] is None
    # a follow-up rating belongs to the latest enquiry even when it comes late and alone
    store(engine, [u.rating(200, 1, after="bot"), u.says(201, "没用", decision="feedback", texts=["感谢反馈"]),
                   u.feedback(201, False, "annual-fee-deadline", "年费多少钱")])
    assert [e["rating"] for e in list_enquiries(engine)] == [None, 1]
    thanks = get_enquiry(engine, list_enquiries(engine)[1]["id"])["messages"][-1]
    assert (thanks["who"], thanks["text"]) == ("system", "感谢反馈")
    # another channel is another enquiry
    store(engine, [User("u_gap", channel="wechat").says(32, "年费")])
    assert len(list_enquiries(engine)) == 3


def test_replayed_stream_and_retried_wechat_message_are_stored_once(engine) -> None:
    a, b = User("u_r1"), User("u_r2")
    batch = [a.legacy(0, "年费怎么交", "msg:7000000000000000001", entry_id="annual-fee-deadline"),
             a.says(1, "谢谢", decision="smalltalk"), b.handoff(0, "queued"), b.handoff(1, "assigned", agent="li"),
             b.rating(9, 2), b.feedback(9, False, "annual-fee-deadline", "年费怎么交")]
    assert store(engine, batch).stored == 6
    before = dump(engine)
    again = store(engine, batch)  # the whole stream replayed
    assert (again.stored, again.duplicates) == (0, 6)
    # the platform retried the message: same MsgId, seconds later
    retry = a.legacy(0.1, "年费怎么交", "msg:7000000000000000001", entry_id="annual-fee-deadline")
    assert store(engine, [retry, retry]).duplicates == 2
    assert dump(engine) == before
    rows = fetch_exchanges(engine, msg_key="msg:7000000000000000001")
    assert len(rows) == 1 and rows[0]["texts_out"] == ["（答复）"] and rows[0]["entry_id"] == "annual-fee-deadline"


def test_out_of_order_delivery_ends_in_the_same_enquiries(engine, tmp_path) -> None:
    """A killed writer's batch is reclaimed after newer ones were written: the result is
    the same as in order (compared enquiry by enquiry)."""
    from bot.records.migrate import migrate
    from bot.records.store import make_engine

    u = User("u_order")
    events = [u.says(0, "转人工", decision="handoff"), u.handoff(0.1, "queued"), u.handoff(2, "assigned", agent="li"),
              u.agent_says(3, "li", "您好"), u.handoff(8, "closed", agent="li", outcome="resolved"),
              u.rating(9, 1), u.says(50, "年费多少", entry_id="annual-fee-deadline"), u.says(52, "谢谢", decision="smalltalk")]
    in_order = make_engine(f"sqlite:///{tmp_path / 'in_order.db'}")
    migrate(in_order)
    store(in_order, events)
    store(engine, events[4:])  # the newer half first ...
    store(engine, events[:4])  # ... then the reclaimed older half
    for e in (in_order, engine):
        close_idle(e, IDLE, now=u.t(200))

    def summary(e):
        return [(r["started_at"], r["closed_at"], r["resolved_by"], r["agent"], r["wait_seconds"], r["rating"])
                for r in list_enquiries(e)]

    assert summary(engine) == summary(in_order)
    assert [r[2] for r in summary(engine)] == ["agent", "bot"]
    in_order.dispose()


def test_shuffled_replays_never_duplicate(engine) -> None:
    users = [User(f"u_mix{i}") for i in range(5)]
    events = [ev for i, u in enumerate(users) for ev in (
        u.says(i, "转人工", decision="handoff"), u.handoff(i, "queued"), u.handoff(i + 1, "assigned", agent="li"),
        u.handoff(i + 5, "closed", agent="li"), u.rating(i + 6, 1 + i % 4))]
    rng = random.Random(6)
    for _ in range(3):
        batch = events[:]
        rng.shuffle(batch)
        store(engine, batch[:13])
        store(engine, batch[13:])
    enqs = list_enquiries(engine)
    assert len(enqs) == 5 and all(e["resolved_by"] == "agent" for e in enqs)
    with engine.connect() as conn:
        assert len(conn.execute(select(enquiry_events)).all()) == 20


def test_unreadable_events_are_kept_aside_and_do_not_block(engine) -> None:
    u = User("u_bad")
    good = u.says(0, "年费", entry_id="annual-fee-deadline")
    bad = ["{not json", json.dumps({"kind": "nonsense", "event_key": "x", "user": "u", "channel": "web", "at": "2025-03-03T00:00:00+00:00"}),
           {**u.rating(1, 4), "rating": 9}, {**u.says(2, "我的电话13812345678"), "at": "yesterday"}]
    done = store(engine, [bad[0], good, *bad[1:]])
    assert (done.stored, done.rejected) == (1, 4)
    with engine.connect() as conn:
        rejected = conn.execute(select(rejected_events).order_by(rejected_events.c.id)).all()
    assert [r.error for r in rejected] == ["not JSON", "unknown kind 'nonsense'", "rating must be one of [1, 2, 3, 4]",
                                           "unreadable time 'yesterday'"]
    assert "13812345678" not in rejected[3].raw and "[手机号]" in rejected[3].raw


def test_overlong_values_are_cut_not_refused(engine) -> None:
    """PostgreSQL refuses a string longer than its column; one such event must not block the stream."""
    u = User("u_long")
    store(engine, [u.handoff(0, "queued"), u.handoff(1, "assigned", agent="a" * 300),
                   u.handoff(5, "closed", agent="a" * 300, outcome="o" * 300)])
    [enq] = list_enquiries(engine)
    assert enq["agent"] == "a" * 40 and enq["outcome"] == "o" * 40


def test_a_bot_enquiry_takes_the_category_of_its_first_answer_from_the_knowledge_base(engine) -> None:
    from bot.config import PROJECT_ROOT
    from bot.records.episodes import entry_categories

    categories = entry_categories(PROJECT_ROOT / "knowledge")
    assert len(categories) > 100 and categories["fee-application-amount"] == "费用"
    u = User("u_cat")
    store(engine, [u.says(0, "年费", decision="fallback"), u.says(1, "申请费多少", entry_id="fee-application-amount"),
                   u.says(2, "其他", entry_id="no-such-entry")], categories=categories)
    assert list_enquiries(engine)[0]["category"] == "费用"
