"""Every reply is courteous: polite markers present, dismissive phrasing absent."""

import re
from pathlib import Path

import yaml

from bot import replies

POLITE = re.compile(r"您|请|谢|抱歉|欢迎|不客气|麻烦")
RUDE = re.compile(r"你自己|看清楚|不知道|别问|听不懂吗|说过了|自己查|不归我管|无可奉告|你的问题")


def all_reply_texts() -> list[str]:
    domain = yaml.safe_load((Path(__file__).parent.parent / "domain.yml").read_text(encoding="utf-8"))
    texts = [v["text"] for variants in domain["responses"].values() for v in variants]
    texts += [getattr(replies, n) for n in dir(replies) if n.isupper() and isinstance(getattr(replies, n), str)]
    texts += [replies.clarify_text(["问题一", "问题二"]), replies.clarify_text(["问题一"]), replies.choose_out_of_range(3)]
    texts += [replies.related_text(["问题一", "问题二"]), replies.ask_patent_type(["invention", "utility", "design"]),
              replies.ask_patent_type(["utility", "design"]),
              replies.ask_applicant(["individual", "company", "institution"]), replies.ask_applicant(["company", "institution"])]
    texts += [replies.welcome_text(("费用", "年费"))]
    texts += [replies.likely_text("问题一？", "答复。（依据：某规定）", ["问题二"]), replies.likely_text("问题一", "答复。", [])]
    texts += [replies.handoff_queued(c, p, w) for c in (True, False) for p in (1, 3) for w in (None, 30, 600)]
    texts += [replies.queue_update(2, 120), *(replies.leave_offer(r) for r in ("closed", "busy", "timeout"))]
    texts += [replies.ticket_created("T1", "11月24日 08:30"), replies.agent_joined("小王"),
              replies.agent_transferred("小李"), replies.ticket_answer("T1", "答复内容"),
              replies.rating_thanks(1), replies.rating_thanks(4)]
    texts += calculator_texts()
    return texts


def calculator_texts() -> list[str]:
    """The calculator's questions for a missing fact and its answers (a passed deadline too)."""
    import datetime as dt

    from bot.rules import compute

    today = dt.date(2026, 7, 1)
    out = []
    for message in ("第7年年费多少", "驳回决定是2026年3月2日发出的，复审最晚哪天", "发明第4年年费费减后多少",
                    "发明第4年年费逾期35天滞纳金多少", "2月30日收到驳回决定，复审最晚哪天", "授权通知3月5日收到的，登记最晚哪天",
                    "驳回决定是2025年3月2日收到的，复审最晚哪天", "发明专利第7年年费多少钱"):
        result = compute(message, None, today)
        out.append(getattr(result, "question", None) or getattr(result, "text", ""))
    return out


def test_every_reply_is_courteous() -> None:
    texts = all_reply_texts()
    assert len(texts) >= 15
    for text in texts:
        assert POLITE.search(text), f"no courtesy marker: {text}"
        assert not RUDE.search(text), f"dismissive phrasing: {text}"
        assert "你" not in text.replace("您", ""), f"use the polite 您: {text}"
