"""The technical-problem detector: the signs of a system problem, and business questions left alone."""

from __future__ import annotations

import pytest

from bot.handoff.technical import TechnicalDetector, default_detector

TECH_ISSUE = "电子申请客户端提交时一直报错，提示“签名验证失败，错误代码 E3021”"


def test_detector_reads_technical_problems_and_leaves_business_questions() -> None:
    detect = default_detector().detect
    for text, topic in ((TECH_ISSUE, "error"), ("数字证书登录不了", "login"), ("UKey 证书过期了怎么更新", "certificate"),
                        ("上传附件一直失败", "upload"), ("我们代理机构批量著录项目变更一直失败", "upload"),
                        ("缴费成功了但一直没到账", "payment"), ("年费交了，系统还是显示未缴费", "payment"),
                        ("页面显示 Error: session timeout", "error")):
        found = detect(text)
        assert found is not None and found.topic == topic and found.team == "tech", (text, found)
    for text in ("发明专利申请费多少钱", "专利证书什么时候发", "专利证书丢了怎么办", "提交申请后多久受理",
                 "年费逾期了怎么办", "请回电话给我，谢谢", "PCT进入中国国家阶段的手续想请人工确认"):
        assert detect(text) is None, text


def test_bad_pattern_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="bad pattern"):
        TechnicalDetector.from_mapping({"team": "tech", "topics": {"error": ["(unclosed"]}})
    with pytest.raises(ValueError, match="topics"):
        TechnicalDetector.from_mapping({"team": "tech"})
