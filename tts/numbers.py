"""Numbers as words, the way a hotline reads them: cardinals, decimals and digit strings, in
Mandarin and English. Pure functions, no I/O; tts/normalise.py decides which reading a number gets.
"""

from __future__ import annotations

ZH_DIGITS = "零一二三四五六七八九"
_ZH_SMALL_UNITS = ("", "十", "百", "千")
_ZH_BIG_UNITS = ("", "万", "亿", "万亿")

EN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_EN_TEENS = (
    "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
_EN_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_EN_BIG = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_EN_ORDINAL_IRREGULAR = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip


def zh_digits(digits: str, one: str = "幺") -> str:
    """Digit by digit: '12345' -> '幺二三四五' (phone numbers); ``one='一'`` for room numbers."""
    return "".join(one if d == "1" else ZH_DIGITS[int(d)] for d in digits if d.isdigit())


def _zh_under_10000(n: int) -> str:
    out = ""
    zero = False
    for power in (3, 2, 1, 0):
        digit = n // 10**power % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += ZH_DIGITS[digit] + _ZH_SMALL_UNITS[power]
    return out


def zh_cardinal(n: int) -> str:
    """1205 -> '一千二百零五', 15 -> '十五', 100000 -> '十万', 0 -> '零'."""
    if n < 0:
        return "负" + zh_cardinal(-n)
    if n == 0:
        return "零"
    groups = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    out = ""
    need_zero = False
    for i in range(len(groups) - 1, -1, -1):
        group = groups[i]
        if group == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or group < 1000):
            out += "零"
        out += _zh_under_10000(group) + _ZH_BIG_UNITS[i]
        need_zero = False
    # 十五, not 一十五, when the number starts with the tens; 两千, 两万, as people say them
    if out.startswith("一十"):
        return out[1:]
    return "两" + out[1:] if out[:2] in ("二千", "二万", "二亿") else out


def zh_number(text: str) -> str:
    """'3.5' -> '三点五', '1200' -> '一千二百'; digits after the point one by one."""
    whole, _, frac = text.partition(".")
    out = zh_cardinal(int(whole or "0"))
    return out + ("点" + zh_digits(frac, "一") if frac else "")


def zh_counted(n: int) -> str:
    """A count before a measure word: 2 -> '两' (两个, 两点), otherwise the cardinal."""
    return "两" if n == 2 else zh_cardinal(n)


def _en_under_1000(n: int) -> str:
    words = []
    if n >= 100:
        words += [EN_DIGITS[n // 100], "hundred"]
        n %= 100
        if n:
            words.append("and")
    if n >= 20:
        words.append(_EN_TENS[n // 10] + ("-" + EN_DIGITS[n % 10] if n % 10 else ""))
    elif n >= 10:
        words.append(_EN_TEENS[n - 10])
    elif n or not words:
        words.append(EN_DIGITS[n])
    return " ".join(words)


def en_cardinal(n: int) -> str:
    """1205 -> 'one thousand two hundred and five'."""
    if n < 0:
        return "minus " + en_cardinal(-n)
    if n < 1000:
        return _en_under_1000(n)
    words = []
    for value, name in _EN_BIG:
        if n >= value:
            words += [en_cardinal(n // value), name]
            n %= value
    if n:
        words += (["and"] if n < 100 else []) + [_en_under_1000(n)]
    return " ".join(words)


def en_number(text: str) -> str:
    """'3.5' -> 'three point five'."""
    whole, _, frac = text.partition(".")
    out = en_cardinal(int(whole or "0"))
    return out + (" point " + en_digits(frac) if frac else "")


def en_digits(digits: str, groups: tuple[int, ...] = ()) -> str:
    """'138' -> 'one three eight'; ``groups=(3, 4, 4)`` puts a comma (a pause) between groups."""
    digits = "".join(d for d in digits if d.isdigit())
    words = [EN_DIGITS[int(d)] for d in digits]
    if not groups:
        return " ".join(words)
    parts, start = [], 0
    for size in groups:
        if start >= len(words):
            break
        parts.append(" ".join(words[start : start + size]))
        start += size
    if start < len(words):
        parts.append(" ".join(words[start:]))
    return ", ".join(parts)


def en_ordinal(n: int) -> str:
    """23 -> 'twenty-third'."""
    words = en_cardinal(n)
    head, sep, last = words.rpartition(" ")
    stem, dash, unit = last.rpartition("-")
    if unit in _EN_ORDINAL_IRREGULAR:
        unit = _EN_ORDINAL_IRREGULAR[unit]
    elif unit.endswith("y"):
        unit = unit[:-1] + "ieth"
    else:
        unit += "th"
    return head + sep + stem + dash + unit


def phone_groups(digits: str) -> tuple[int, ...]:
    """How people group a number they read out: mobile 3-4-4, 7 or 8 digit local numbers 3-4 / 4-4."""
    n = len(digits)
    if n == 11 and digits.startswith("1"):
        return (3, 4, 4)
    if n == 8:
        return (4, 4)
    if n == 7:
        return (3, 4)
    return ()
