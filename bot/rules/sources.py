"""Where every figure and time limit comes from, named with its date.

Kept in one place so a reply never cites a law without its version: many pages online still
quote the 2010 Implementing Rules and abolished fees.
"""

from __future__ import annotations

PATENT_LAW = "《中华人民共和国专利法》（2020年10月17日修正，2021年6月1日起施行）"
IMPLEMENTING_RULES = "《中华人民共和国专利法实施细则》（2023年12月11日修订，2024年1月20日起施行）"
GUIDELINES = "《专利审查指南》（国家知识产权局2025年发布）"
FEE_SCHEDULE = "国家知识产权局专利收费标准（年费），见《专利和集成电路布图设计缴费服务指南》"
OPEN_LICENCE_FEES = "《财政部 国家发展改革委关于调整优化专利收费政策的通知》（财税〔2024〕23号，2024年7月15日）"
FEE_REDUCTION = "专利收费减缴办法（财税〔2016〕78号）及财税〔2018〕37号（2018年8月1日起执行）"


def law(article: str) -> str:
    return f"{PATENT_LAW}{article}"


def rules(article: str) -> str:
    return f"{IMPLEMENTING_RULES}{article}"


def guidelines(section: str) -> str:
    return f"{GUIDELINES}{section}"


# The rule that moves a limit off a rest day, and the service rules, cited by every deadline.
EXPIRY_ON_REST_DAY = [
    rules("第五条"),
    guidelines("第五部分第七章第2.3节"),
]
SERVICE = [
    rules("第四条"),
    guidelines("第五部分第六章第2.3.1节"),
]
