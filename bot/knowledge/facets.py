"""What a patent-desk agent listens for in a question: the patent type, the kind of
question, the procedural terms, and who is asking.

These are read from the words alone (after the glossary), so the ranker can compare a
question with an entry, and the conversation can carry them from one turn to the next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.knowledge.text import compact

# --- patent types ------------------------------------------------------------------------
PATENT_TYPES = ("invention", "utility", "design")
TYPE_NAMES = {"invention": "发明", "utility": "实用新型", "design": "外观设计"}
# longest first: "实用新型" must not also count as "新型"; "外观设计" before "外观"
TYPE_WORDS = (
    ("实用新型专利", "utility"), ("外观设计专利", "design"), ("发明专利", "invention"),
    ("实用新型", "utility"), ("外观设计", "design"), ("实用型", "utility"), ("新型", "utility"),
    ("外观", "design"), ("发明", "invention"),
)
# "发明人" (inventor) and "发明创造" (any invention-creation) do not name the invention type
_NOT_TYPE = re.compile(r"发明人|发明创造|发明者|职务发明")


def patent_types(text: str) -> frozenset[str]:
    """The patent types a text names (empty: it names none)."""
    t = _NOT_TYPE.sub("", compact(text))
    found: set[str] = set()
    for word, kind in TYPE_WORDS:
        if word in t:
            found.add(kind)
            t = t.replace(word, "")
    return frozenset(found)


# --- kinds of question --------------------------------------------------------------------
# The order matters: the first kind whose pattern matches wins.
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("amount", re.compile(r"多少钱|多少元|几块|几百|几千|收费|费用多少|要多少|交多少|付多少|花多少|金额|价格|价钱|标准是多少|费是多少|费多少|多少费|贵不贵|便宜")),
    ("consequence", re.compile(r"不交|没交|忘了交|忘交|逾期|过期|超过了|超期|晚了|晚交|错过|会怎样|会怎么样|会不会|后果|怎么办|咋办|来不及")),
    ("deadline", re.compile(r"什么时候|何时|多久|多长时间|几天|几个月|期限|截止|最晚|最迟|哪天|时限|几年|多少年|保护期|有效期|要多长")),
    ("materials", re.compile(r"材料|文件|证明|需要准备|要准备|提交什么|交什么|带什么|附件")),
    ("where", re.compile(r"哪里|在哪|去哪|哪儿|什么地方|哪个部门|找谁|网址|网站|电话|地址")),
    ("how", re.compile(r"怎么|如何|怎样|流程|步骤|手续|办理|咋")),
    ("whether", re.compile(r"能不能|可不可以|可以吗|能否|是否|吗|可否|行不行|能.*不$|可以.*不$|有没有|需不需要|要不要|用不用")),
    ("what", re.compile(r"什么|啥|哪些|哪几|区别|不同|含义|意思|是指")),
)


def question_kind(text: str) -> str | None:
    t = compact(text)
    for kind, pattern in _KINDS:
        if pattern.search(t):
            return kind
    return None


# --- procedural terms ----------------------------------------------------------------------
# Each term is named by the knowledge base's word; the list holds how users write it.
TERMS: dict[str, tuple[str, ...]] = {
    "年费": ("年费", "维持费", "续费"),
    "滞纳金": ("滞纳金", "滞纳", "补缴", "补交"),
    "恢复": ("恢复", "复权"),
    "复审": ("复审",),
    "无效": ("无效",),
    "优先权": ("优先权",),
    "实审": ("实质审查", "实审", "实质审"),
    "登记": ("登记", "办登"),
    "费减": ("费减", "减缴", "减免", "减费", "费用减", "备案", "打折", "优惠"),
    "申请费": ("申请费",),
    "变更": ("变更", "著录项目", "改名", "更名", "改地址"),
    "转让": ("转让", "过户", "卖专利", "买专利"),
    "许可": ("许可",),
    "质押": ("质押",),
    "PCT": ("pct", "国际申请"),
    "国家阶段": ("国家阶段", "进入中国"),
    "延长": ("延长", "延期"),
    "补正": ("补正",),
    "审查意见": ("审查意见", "答复"),
    "视为撤回": ("视为撤回", "视撤"),
    "驳回": ("驳回",),
    "授权": ("授权", "授予"),
    "证书": ("证书",),
    "评价报告": ("评价报告",),
    "优先审查": ("优先审查", "加快审查", "快速审查", "加急"),
    "预审": ("预审", "快速预审", "保护中心"),
    "延迟审查": ("延迟审查",),
    "分案": ("分案",),
    "撤回": ("撤回申请", "撤回专利"),
    "放弃": ("放弃",),
    "代理": ("代理",),
    "电子申请": ("电子申请", "网上申请", "在线申请", "业务办理系统", "客户端", "cpc"),
    "数字证书": ("数字证书", "ca证书", "u盾"),
    "公布": ("公布", "公开"),
    "保密": ("保密",),
    "宽限期": ("宽限期", "新颖性宽限"),
    "保护期": ("保护期", "保护多少年", "保护几年", "有效期", "期限届满", "到期"),
    "补偿": ("期限补偿", "补偿"),
    "权利要求": ("权利要求",),
    "说明书": ("说明书",),
    "附加费": ("附加费",),
    "退款": ("退款", "退费", "多缴", "错缴"),
    "发票": ("票据", "发票", "收据"),
    "检索": ("检索", "查询", "查一下", "查看"),
    "费用": ("费用", "官费", "缴费", "交费", "付款"),
    "申请": ("申请",),
    # matters a patent-procedure desk hears but other bodies decide: a question about one of
    # them is not answered by an entry that never mentions it
    "资助": ("资助", "补贴", "奖励", "扶持", "奖金", "补助"),
    # the employer's reward to its inventors (PL 15) is the law's; award programmes are not
    "职务发明": ("职务发明", "发明人奖励", "发明人报酬", "给发明人"),
    "专利奖": ("专利奖", "评奖", "示范企业", "优势企业"),
    "侵权": ("侵权", "起诉", "赔偿", "仿冒", "抄袭", "维权", "律师"),
    "商标": ("商标",),
    "版权": ("版权", "著作权", "软著"),
    "税": ("税", "加计扣除", "高新技术企业", "高企"),
    "价格": ("代理费", "报价", "估值", "评估价", "卖多少", "值多少"),
}
_TERM_WORDS = sorted(((w, term) for term, words in TERMS.items() for w in words), key=lambda p: -len(p[0]))


def terms(text: str) -> frozenset[str]:
    t = compact(text)
    found: set[str] = set()
    for word, term in _TERM_WORDS:
        if word in t:
            found.add(term)
    return frozenset(found)


# --- who is asking ----------------------------------------------------------------------
_APPLICANTS = (
    ("joint", re.compile(r"两个|几个|多个|共同|一起|合作|联合|共有")),
    ("company", re.compile(r"公司|企业|单位|厂|集团")),
    ("institution", re.compile(r"大学|高校|学校|研究所|科研|事业单位|医院")),
    ("individual", re.compile(r"个人|学生|自己|本人|我是|退休|农民|自然人")),
)


def applicant_kind(text: str) -> str | None:
    t = compact(text)
    for kind, pattern in _APPLICANTS:
        if pattern.search(t):
            return kind
    return None


def applicant_kinds(text: str) -> frozenset[str]:
    """Every kind of applicant a text names ("高校、事业单位" names an institution and, by 单位, a company)."""
    t = compact(text)
    return frozenset(kind for kind, pattern in _APPLICANTS if pattern.search(t))


@dataclass(frozen=True)
class Facets:
    types: frozenset[str]
    kind: str | None
    terms: frozenset[str]
    applicant: str | None

    @classmethod
    def of(cls, text: str) -> Facets:
        return cls(patent_types(text), question_kind(text), terms(text), applicant_kind(text))
