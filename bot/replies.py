"""Reply texts and the machine-readable payload every reply carries.

Tone rule: courteous, never curt or blaming; Simplified Chinese. The payload sits under
`custom.patentdesk` so clients can tell answers from clarifications without parsing text.
"""

from __future__ import annotations

from typing import Any

DECISIONS = ("answer", "clarify", "handoff", "fallback", "smalltalk", "out_of_scope")


def payload(decision: str, entry_id: str | None = None, confidence: float | None = None,
            candidates: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    if decision not in DECISIONS:
        raise ValueError(f"unknown decision {decision!r}")
    body: dict[str, Any] = {"decision": decision, "entry_id": entry_id,
                            "confidence": None if confidence is None else round(float(confidence), 4),
                            "candidates": candidates or []}
    body.update(extra)
    return {"patentdesk": body}


CLARIFY_INTRO = "您好，为了准确回答，想跟您确认一下，您想咨询的是下面哪个问题？请回复序号："


def clarify_text(questions: list[str], intro: str = CLARIFY_INTRO) -> str:
    lines = [intro]
    lines += [f"{i}. {q}" for i, q in enumerate(questions, 1)]
    lines.append("如果都不是，欢迎换个说法再问我，或回复“转人工”。")
    return "\n".join(lines)


NOT_SURE = ("非常抱歉，这个问题我暂时没有把握准确回答。为避免给您不准确的信息，建议由人工客服为您解答，"
            "需要的话请回复“是”或“转人工”；您也可以换个说法再问我。")
NO_MORE_CANDIDATES = ("非常抱歉没能答到您的问题上。为避免耽误您的事情，建议由人工客服为您解答，"
                      "需要的话请回复“是”或“转人工”；您也可以换个说法再问我。")
NOT_THESE = "抱歉刚才没能答到点上。您想咨询的是不是下面的问题？请回复序号："
HANDOFF_REQUEST = ("好的，已为您登记转人工服务，工作人员会尽快跟进您的问题，请您稍候。"
                   "感谢您的耐心！")
HANDOFF_COMPLAINT = ("非常抱歉给您带来了不好的体验，我们非常重视您的意见。已为您登记转人工服务，"
                     "工作人员会尽快与您联系处理，感谢您的理解与耐心。")
FALLBACK_REPHRASE = ("抱歉，我没有完全理解您的意思。能否麻烦您换个说法再描述一下？"
                     "比如“发明专利申请费多少钱”“年费逾期了怎么办”。")
FALLBACK_OFFER_HUMAN = ("非常抱歉，我还是没能理解您的问题。需要为您转接人工客服吗？"
                        "请回复“是”或“转人工”；您也可以继续换个说法问我。")
CHOOSE_NOTHING_PENDING = "您好，请直接输入您想咨询的专利问题，我来为您解答。"
DENY_ACK = "好的，没问题。请问还有什么可以帮您？您可以直接输入想咨询的问题。"


def choose_out_of_range(n: int) -> str:
    return f"抱歉，没有找到这个序号。请回复 1 到 {n} 之间的数字，或者换个说法直接提问。"


# --- channel texts (gateway) ---------------------------------------------------------
def welcome_text(topics: tuple[str, ...]) -> str:
    return ("您好，欢迎关注！我是专利业务智能客服，很高兴为您服务。您可以直接输入想咨询的问题，"
            "常见的有：" + "、".join(topics) + "。需要人工服务时，请回复“转人工”。")


UNSUPPORTED_MESSAGE = ("您好，非常抱歉，我目前只能看懂文字消息和语音（转成文字的部分），暂时无法识别图片、"
                       "视频、位置或链接。麻烦您用文字描述一下您的问题，我会尽力为您解答，谢谢！")
VOICE_NOT_RECOGNISED = ("您好，抱歉这条语音我没能识别出文字。麻烦您再说一遍，或者直接输入文字，"
                        "我会尽快为您解答，谢谢！")
UNKNOWN_MENU = "您好，这个菜单项暂时无法使用，非常抱歉。您可以直接输入想咨询的问题，我来为您解答。"
ASSISTANT_UNAVAILABLE = ("非常抱歉，系统正在忙，暂时没能处理您的消息。请您稍后再试一次，"
                         "给您带来不便，敬请谅解！")
