"""The official account's custom menu: CLICK event keys and the question each one asks.

The simulator draws its menu from this table and the gateway maps a CLICK to its
question, so the two never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MenuItem:
    key: str
    label: str
    question: str


MENU: tuple[MenuItem, ...] = (
    MenuItem("FAQ_FEE_REDUCTION", "费用减缴", "怎么办理专利费用减缴？"),
    MenuItem("FAQ_ANNUAL_FEE", "年费缴纳", "专利年费什么时候交？"),
    MenuItem("FAQ_EFILING", "电子申请", "网上申请专利在哪个系统办理？"),
    MenuItem("FAQ_PRIORITY_EXAM", "优先审查", "怎么提出优先审查请求？"),
    MenuItem("FAQ_CHANGE", "著录项目变更", "哪些著录事项可以申请变更？"),
    MenuItem("HUMAN", "人工服务", "转人工"),
)

MENU_BY_KEY = {item.key: item for item in MENU}

# Each question is an entry's standard question, so a click always gets that entry's answer.

# Topics the welcome message lists (what most enquiries are about).
TOPICS = ("费用与费用减缴", "年费与滞纳金", "电子申请", "优先审查", "著录项目变更", "权利恢复", "期限", "PCT 国家阶段")
