"""Personal data out of stored text: mobile and landline numbers, ID-card numbers, e-mail.

Applied by the records writer to every text it stores (user and agent messages, feedback
questions, the raw text of unreadable events), so records, exports and reports never
hold them. Each kind becomes a readable placeholder (`[手机号]` ...) rather than a partial
mask like 138****5678: agents and analysts only need to know that a number was given,
and no digits at all leak.

The patterns are anchored so they do not bite into longer digit runs: patent application
numbers (202310123456.7, ZL201910123456.X), fees (900元), dates and years stay as they
are. Precision over recall where the two conflict is the wrong trade here, so the
patterns accept any plausible number (an ID card with a valid birth date but a wrong
check digit is still masked).
"""

from __future__ import annotations

import re

# Not glued to a preceding digit, letter or decimal point (so never the tail of a longer
# number such as an application number); Chinese characters may touch.
_START = r"(?<![0-9A-Za-z.])"
_END = r"(?![0-9])"

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")

_DATE = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
ID_CARD = re.compile(
    rf"{_START}(?:[1-9]\d{{5}}(?:18|19|20)\d{{2}}{_DATE}\d{{3}}[0-9Xx]"  # 18 digits, last may be X
    rf"|[1-9]\d{{7}}{_DATE}\d{{3}})(?![0-9A-Za-z])"  # 15 digits (before 1999)
)

# 1[3-9]x xxxx xxxx, optionally +86, spaces or hyphens between the groups
MOBILE = re.compile(rf"{_START}(?:\+?86[-\s]?)?1[3-9]\d(?:[-\s]?\d{{4}}){{2}}{_END}")

# an area code (0 + 2-3 digits, maybe in brackets) and a 7-8 digit local number not
# starting with 0 or 1, maybe an extension; a bare local number is too like an amount
LANDLINE = re.compile(
    rf"{_START}(?:[(（]0\d{{2,3}}[)）]|0\d{{2,3}})[-\s－—]?[2-9]\d{{6,7}}(?:(?:-|转)\d{{1,5}})?{_END}"
)

PLACEHOLDERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (EMAIL, "[邮箱]"),  # first: an address may be made of digits (13812345678@163.com)
    (ID_CARD, "[身份证号]"),  # before phones: 11-digit runs inside it must not match first
    (MOBILE, "[手机号]"),
    (LANDLINE, "[电话]"),
)


def mask(text: str) -> str:
    """The text with every phone number, ID-card number and e-mail address replaced."""
    if not text:
        return text
    for pattern, placeholder in PLACEHOLDERS:
        text = pattern.sub(placeholder, text)
    return text


def mask_value(value: object) -> object:
    """`mask` through a JSON value: strings in lists and dicts too (event payloads)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [mask_value(v) for v in value]
    if isinstance(value, dict):
        return {k: mask_value(v) for k, v in value.items()}
    return value
