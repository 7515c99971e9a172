"""Reply texts and the machine-readable payload every reply carries.

Tone rule: courteous, never curt or blaming; Simplified Chinese. The payload sits under
`custom.patentdesk` so clients can tell answers from clarifications without parsing text.
"""

from __future__ import annotations

import datetime as dt
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
    if len(questions) == 1 and intro == CLARIFY_INTRO:  # one candidate: a yes-or-no question, not a list
        return (f"您好，想跟您确认一下，您是想问“{questions[0].rstrip('？?')}”吗？是的话回复“是”或“1”即可；"
                "如果不是，欢迎换个说法再问我，或回复“转人工”。")
    lines = [intro]
    lines += [f"{i}. {q}" for i, q in enumerate(questions, 1)]
    lines.append("如果都不是，欢迎换个说法再问我，或回复“转人工”。")
    return "\n".join(lines)


def likely_text(question: str, reply: str, others: list[str]) -> str:
    """A clarify that shows the likely answer first (bot.knowledge.policy.LIKELY_SHOWN)."""
    lines = [f"您问的可能是“{question.rstrip('？?。')}”：", reply]
    if others:
        lines.append("如果不是这个问题，您想问的也许是（回复序号即可）：")
        lines += [f"{i}. {q}" for i, q in enumerate(others, 2)]
        lines.append("都不是的话，欢迎换个说法再问我，或回复“转人工”。")
    else:
        lines.append("如果不是这个问题，欢迎换个说法再问我，或回复“转人工”。")
    return "\n".join(lines)


def answer_text(question: str, reply: str, focus: tuple[str, list[str]] | None = None) -> str:
    """The answer, headed by the question it answers, so a mismatch is noticed at once; with
    `focus` (a patent type's name and the answer's clauses about it alone), those come first."""
    head = f"关于“{question.rstrip('？?。')}”：\n"
    if focus:
        name, lines = focus
        head += f"【{name}】{''.join(lines).rstrip('；;。')}。\n"
    return head + reply


def related_text(questions: list[str]) -> str:
    lines = ["您可能还想问（回复序号即可）："]
    lines += [f"{i}. {q}" for i, q in enumerate(questions, 1)]
    return "\n".join(lines)


_TYPE_LABELS = {"invention": "发明", "utility": "实用新型", "design": "外观设计"}


_APPLICANT_LABELS = {"individual": "个人", "company": "企业", "institution": "高校、科研院所等事业单位"}


def ask_applicant(kinds: list[str]) -> str:
    """The one detail that separates the candidates is who applies (the fee-reduction proofs)."""
    names = [_APPLICANT_LABELS[k] for k in kinds]
    options = "、".join(names[:-1]) + "还是" + names[-1] if len(names) > 1 else names[0]
    return f"好的，为了准确回答，请问申请人是{options}？直接回复即可。"


def ask_patent_type(types: list[str]) -> str:
    names = [_TYPE_LABELS[t] for t in types]
    options = "、".join(names[:-1]) + "还是" + names[-1] if len(names) > 1 else names[0]
    return f"好的，为了准确回答，请问您问的是{options}专利？直接回复类型即可。"


# A question that names only "fees" or "time limits" ("问下费用的事", "期限是多久啊"): which one, in
# one short question, instead of the offer of a person (names of procedures only, no figures)
ASK_WHICH_FEE = ("好的，专利费用有好几项，请问您想了解哪一项？例如申请费、实质审查费、年费、滞纳金、费用减缴，"
                 "或者直接告诉我您在办的手续，我帮您查。")
ASK_WHICH_TIME_LIMIT = ("好的，专利手续的期限有好几种，请问您想了解哪一项？例如缴纳申请费、提出实质审查请求、"
                        "答复审查意见、办理登记、缴纳年费、要求优先权、请求复审的期限，直接告诉我是哪一项即可。")


APPLICANT_NOTED = ("好的，了解了。请问您想咨询哪方面的专利问题？比如能否减缴费用、申请费多少、"
                   "年费怎么交等，您直接提问就可以。")
NOT_SURE = ("非常抱歉，这个问题我暂时没有把握准确回答。为避免给您不准确的信息，建议由人工客服为您解答，"
            "需要的话请回复“是”或“转人工”；您也可以换个说法再问我。")
NO_MORE_CANDIDATES = ("非常抱歉没能答到您的问题上。为避免耽误您的事情，建议由人工客服为您解答，"
                      "需要的话请回复“是”或“转人工”；您也可以换个说法再问我。")
NOT_THESE = "抱歉刚才没能答到点上。您想咨询的是不是下面的问题？请回复序号："
HANDOFF_REQUEST = ("好的，已为您登记转人工服务，工作人员会尽快跟进您的问题，请您稍候。"
                   "感谢您的耐心！")
HANDOFF_COMPLAINT = ("非常抱歉给您带来了不好的体验，我们非常重视您的意见。已为您登记转人工服务，"
                     "工作人员会尽快与您联系处理，感谢您的理解与耐心。")
HANDOFF_TECHNICAL = ("非常抱歉给您带来不便。您遇到的是系统使用方面的技术问题，已为您转接技术支持同事，"
                     "他们会尽快与您联系处理，感谢您的耐心！")
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
SCAN_RECEIVED = ("您好，已收到您扫描的内容。我是专利业务智能客服，暂时无法处理扫码内容；"
                 "如有专利业务方面的问题，请直接输入文字，我会尽力为您解答。")
SCAN_AGAIN = "您好，欢迎回来！请直接输入您想咨询的专利业务问题，我会尽力为您解答。"
UNKNOWN_MENU = "您好，这个菜单项暂时无法使用，非常抱歉。您可以直接输入想咨询的问题，我来为您解答。"
ASSISTANT_UNAVAILABLE = ("非常抱歉，系统正在忙，暂时没能处理您的消息。请您稍后再试一次，"
                         "给您带来不便，敬请谅解！")


# --- human handoff (gateway) ---------------------------------------------------------
HANDOFF_UNAVAILABLE = ("非常抱歉，人工客服系统暂时无法接入，给您添麻烦了。您可以继续向我咨询专利业务问题，"
                       "或稍后再回复“转人工”。感谢您的理解！")
LEFT_QUEUE = "好的，已为您取消人工排队。有其他问题欢迎继续问我，我随时为您服务。"
LEAVE_PROMPT = ("好的，请直接发送您的留言内容（问题描述和方便联系的时间），我们会在两个工作日内答复您。"
                "回复“取消”可返回智能助手。")
RETURNED_TO_BOT = "您好，本次人工服务已转回智能助手。您可以继续向我提问，需要时再回复“转人工”。感谢您的耐心！"
CANCEL_WORDS = ("算了", "取消", "不用了", "不等了", "退出排队", "取消排队", "不需要了")
LEAVE_WORDS = ("留言",)
CONFIRM_WORDS = ("1", "确认", "确认留言", "确定", "提交", "提交留言")
LEAVE_STILL_OPEN = "如您仍需留言，请直接发送留言内容；回复“取消”可返回智能助手。"
LEAVE_DRAFT_PENDING = "您刚才的留言尚未提交，确认留言请回复 1，继续补充请直接发送，回复“取消”可返回智能助手。"


def handoff_queued(complaint: bool, position: int, wait_seconds: float | None, team: str | None = None) -> str:
    """team: the name of a team other than the default one (technical support)."""
    head = ("非常抱歉给您带来了不好的体验，我们非常重视您的意见，已为您优先转接人工客服。" if complaint
            else f"非常抱歉给您带来不便，您的问题需要{team}同事协助处理，正在为您转接。" if team
            else "好的，正在为您转接人工客服。")
    return head + place_text(position, wait_seconds) + "期间您可以继续补充问题，回复“取消”可退出排队。"


def place_text(position: int, wait_seconds: float | None) -> str:
    if position <= 1:
        ahead = "您是下一位，"
    else:
        ahead = f"您前面还有 {position - 1} 位用户，"
    if wait_seconds is None:
        return ahead + "请您耐心稍候。"
    if wait_seconds < 60:
        return ahead + "预计很快就能为您服务，请稍候。"
    return ahead + f"预计等待约 {max(1, round(wait_seconds / 60))} 分钟，请您耐心稍候。"


def queue_update(position: int, wait_seconds: float | None) -> str:
    return "您好，感谢您的耐心等待。" + place_text(position, wait_seconds)


_DAYS = {1: "一", 2: "两", 3: "三", 4: "四", 5: "五", 6: "六", 7: "七", 8: "八", 9: "九", 10: "十"}


def leave_offer(reason: str, team: str | None = None, hours: str = "8:30-17:00", days: int = 2) -> str:
    """reason: closed (out of working hours), busy (nobody free), timeout (nobody claimed in time);
    team: the name of a team other than the default one; hours and days: that team's opening
    hours and ticket due time, so the promise made is the one the team keeps."""
    who = f"{team}同事" if team else "人工客服"
    why = {
        "closed": f"非常抱歉，现在不是{who}的工作时间（工作日 {hours}，法定节假日除外）。",
        "busy": f"非常抱歉，目前暂无{who}在线。",
        "timeout": f"非常抱歉让您久等了，{who}暂时都在忙。",
    }[reason]
    if team and reason != "timeout":
        why = f"您的问题需要{team}同事协助处理。" + why
    return (why + f"您可以直接发送留言，我们会在{_DAYS.get(days, str(days))}个工作日内答复您；也可以回复“取消”返回智能助手。"
            + ("" if reason != "timeout" else "如果您愿意继续等待，无需回复，我们会按顺序为您接入。"))


def team_hours(opens: dt.time, closes: dt.time) -> str:
    """"8:30-17:00" as the offer states a team's hours."""
    return f"{opens.hour}:{opens.minute:02d}-{closes.hour}:{closes.minute:02d}"


def ticket_created(ticket_id: str, due: str) -> str:
    return (f"您的留言已收到（留言编号 {ticket_id}），我们会在 {due} 前答复您，请留意消息。"
            "感谢您的耐心！如还有其他问题，可以继续问我。")


def leave_confirm(draft: str) -> str:
    """The left message echoed back whole: it becomes a ticket only when the user confirms."""
    return (f"您要留言的内容是：\n「{draft}」\n确认留言请回复 1；如需补充，请继续发送，我们会一并记录；"
            "回复“取消”可返回智能助手。")


def agent_joined(name: str) -> str:
    return f"您好，人工客服 {name} 为您服务，请问有什么可以帮您？"


def agent_transferred(name: str) -> str:
    return f"您好，已为您转接至人工客服 {name}，请稍候，我们会继续为您处理。"


def team_transferred(team: str) -> str:
    return f"您好，为了更好地解决您的问题，已为您转接{team}同事，请您稍候，我们会继续为您处理。"


def ticket_answer(ticket_id: str, text: str) -> str:
    return f"您好，关于您的留言（编号 {ticket_id}），答复如下：\n{text}\n感谢您的耐心等待！"


RATING_REQUEST_AGENT = ("本次人工服务已结束，感谢您的耐心！请您对本次服务进行评价，回复数字即可："
                        "1 非常满意，2 满意，3 一般，4 不满意。")


def rating_thanks(rating: int) -> str:
    if rating >= 4:
        return ("非常抱歉没能让您满意，您的评价已记录，我们会尽快回访并改进服务。"
                "如还有问题，欢迎继续咨询。")
    return "感谢您的评价！祝您一切顺利，如还有问题，欢迎随时咨询。"


NOTICE_TITLE = "您的咨询有了答复"
NOTICE_PAGE_TITLE = "您的咨询答复 · 专利事务咨询"
NOTICE_PAGE_BACK = "如需继续咨询，请返回公众号直接发送消息，我们会尽快为您解答。"
NOTICE_PAGE_GONE = "抱歉，这条答复已过期或不存在。如需帮助，请返回公众号直接发送消息。"
SUBSCRIBE_DONE = "已开启，有答复时我们会通过服务通知告诉您。感谢您的耐心！"
SUBSCRIBE_UNAVAILABLE = "抱歉，订阅按钮暂时无法加载，请稍后刷新本页再试。"
SUBSCRIBE_PAGE = ("为了在 48 小时后仍能把答复送到您手中，请点击下方按钮并选择“允许”，"
                  "我们只会在有答复时发送一次服务通知。")


def notice_ask(url: str) -> str:
    """Asks the user to allow one subscription notice (订阅通知) for a reply that may come late."""
    return ("如果答复在 48 小时后才送达，微信可能无法直接推送给您。为确保您能及时收到，"
            f"请打开以下链接并选择“允许”接收一次服务通知：{url}")


FEEDBACK_HINT = "（这个回答对您有帮助吗？可回复“有用”或“没用”。）"
FEEDBACK_THANKS = "感谢您的反馈，很高兴能帮到您！还有其他问题，欢迎继续问我。"
RATING_REQUEST_BOT = ("方便的话，请您对本次咨询进行评价，回复数字即可：1 非常满意，2 满意，3 一般，4 不满意。"
                      "感谢您的支持！")
HELPFUL_WORDS = ("有用", "有帮助", "解决了", "明白了", "清楚了", "懂了")
UNHELPFUL_WORDS = ("没用", "没有用", "没帮助", "没有帮助", "不是这个", "答非所问", "没解决")
