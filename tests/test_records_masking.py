"""Personal data masking: realistic sentences users and agents write, and near-misses that
must stay as they are (application numbers, fees, dates)."""

from __future__ import annotations

import pytest

from bot.records.masking import mask, mask_value


@pytest.mark.parametrize(("text", "masked"), [
    ("我的手机号是13812345678，麻烦回个电话", "我的手机号是[手机号]，麻烦回个电话"),
    ("电话138-1234-5678，下午都在", "电话[手机号]，下午都在"),
    ("联系方式：+86 139 1234 5678", "联系方式：[手机号]"),
    ("请打8613912345678找张工", "请打[手机号]找张工"),
    ("办公室座机010-62356655转8021", "办公室座机[电话]"),
    ("公司电话（0571）87654321，传真0571 87654322", "公司电话[电话]，传真[电话]"),
    ("座机01062356655", "座机[电话]"),
    ("身份证号110101199003071234，是本人申请", "身份证号[身份证号]，是本人申请"),
    ("证件号码11010519491231002X。", "证件号码[身份证号]。"),
    ("老身份证号是110101900307123", "老身份证号是[身份证号]"),
    ("发到zhang.san@example.com就行", "发到[邮箱]就行"),
    ("邮箱：13812345678@163.com", "邮箱：[邮箱]"),
    ("代理人邮箱 li_si+patent@agency.com.cn，电话13712345678",
     "代理人邮箱 [邮箱]，电话[手机号]"),
])
def test_personal_data_is_masked(text: str, masked: str) -> None:
    assert mask(text) == masked


@pytest.mark.parametrize("text", [
    "申请号202310123456.7的年费什么时候交？",
    "专利号ZL201910123456.X已经授权了",
    "申请号2023101234567还在实审",
    "发明专利申请费900元，公布印刷费50元",
    "年费1200元，滞纳金13500元怎么算",
    "2024年3月15日提交的，2024-03-15",
    "国际申请号PCT/CN2023/123456进入国家阶段",
    "第12345678号通知书",
    "费用减缴比例85%，减缴后申请费135元",
    "版本3.1.13812345678里的号码",  # glued to a decimal: not a phone number
    "发文序号2019050712345678",  # 16 digits: no ID card, no phone
])
def test_near_misses_are_kept(text: str) -> None:
    assert mask(text) == text


def test_masking_goes_through_json_values() -> None:
    payload = {"outcome": "已回电13812345678", "list": ["a@b.cn", 3], "n": 5, "none": None}
    assert mask_value(payload) == {"outcome": "已回电[手机号]", "list": ["[邮箱]", 3], "n": 5, "none": None}
