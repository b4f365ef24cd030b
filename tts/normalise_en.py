"""English hotline text -> what the voice should say, numbers as words.

Written out here rather than left to the voice, so every English voice (espeak-ng, a Piper voice)
reads them the same way, the way a hotline agent would:
  Latin terms        WiFi -> Wi-Fi; APP -> app; other capitals (ID, SMS) letter by letter
  dates              2026-11-23 -> November twenty-third, twenty twenty-six;
                     23 November -> the twenty-third of November
  times              15:30 -> three thirty p m; 8:05 -> eight oh five a m; 9am -> nine a m
  phone numbers      digit by digit in groups: 13812345678 -> one three eight, one two three four, ...
                     010-12345678; 400-123-4567; numbers after call/dial/phone/number/line; 110, 12345, 95598
  references         work order number 325618 -> three two five six one eight; ref A1 -> A one
  money              ¥35.50, 35.50 yuan -> thirty-five yuan fifty; $12.30 -> twelve dollars thirty
  percentages        35% -> thirty-five percent
  rooms, buildings   Room 501 -> room five oh one; Building 3 -> building three
  ranges             3-5 days -> three to five days
  everything else    3.5 -> three point five; 1st -> first; five or more digits one by one; cardinals
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tts.numbers import EN_DIGITS, en_cardinal, en_digits, en_number, en_ordinal, phone_groups

MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)  # fmt: skip
LEXICON = {"wifi": "Wi-Fi", "wi-fi": "Wi-Fi", "app": "app", "ok": "okay", "wlan": "Wi-Fi"}
SERVICE_NUMBERS = ("110", "119", "120", "122", "114", "12345", "12315", "12320", "12333", "12369", "95598")
_NB = r"(?<![\d.])"
_NA = r"(?![\d.]*\d)"
_MONTH = "(?P<month>" + "|".join(MONTHS) + "|" + "|".join(m[:3] for m in MONTHS) + ")"


def _oh_digits(digits: str) -> str:
    """Room numbers: 501 -> five oh one."""
    return " ".join("oh" if d == "0" else EN_DIGITS[int(d)] for d in digits)


def phone(digits: str) -> str:
    digits = re.sub(r"\D", "", digits)
    return en_digits(digits, phone_groups(digits))


def code(text: str) -> str:
    """A reference code: digits one by one, letters as capitals the voice spells."""
    return " ".join(EN_DIGITS[int(ch)] if ch.isdigit() else ch.upper() for ch in text if ch.isalnum())


def year(y: int) -> str:
    """2026 -> twenty twenty-six, 2005 -> two thousand and five, 1998 -> nineteen ninety-eight."""
    if 2000 <= y < 2010 or y % 1000 == 0:
        return en_cardinal(y)
    high, low = divmod(y, 100)
    if low == 0:
        return en_cardinal(high) + " hundred"
    return en_cardinal(high) + " " + (("oh " + EN_DIGITS[low]) if low < 10 else en_cardinal(low))


def _month_number(name: str) -> int:
    return next(i for i, m in enumerate(MONTHS, 1) if m.lower().startswith(name.lower()[:3]))


def _iso_date(m: re.Match[str]) -> str:
    y, mo, d = int(m["y"]), int(m["m"]), int(m["d"])
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return m.group()
    return f"{MONTHS[mo - 1]} {en_ordinal(d)}, {year(y)}"


def _day_month(m: re.Match[str]) -> str:
    out = f"the {en_ordinal(int(m['d']))} of {MONTHS[_month_number(m['month']) - 1]}"
    return out + (f" {year(int(m['y']))}" if m["y"] else "")


def _month_day(m: re.Match[str]) -> str:
    out = f"{MONTHS[_month_number(m['month']) - 1]} {en_ordinal(int(m['d']))}"
    return out + (f", {year(int(m['y']))}" if m["y"] else "")


def _clock(hour: int, minute: int, suffix: str | None) -> str:
    if suffix is None:
        if hour == 12 and minute == 0:
            return "twelve noon"
        if hour == 0 and minute == 0:
            return "midnight"
        suffix = "p m" if hour >= 12 else "a m"
    h12 = hour % 12 or 12
    if minute == 0:
        spoken = en_cardinal(h12)
    elif minute < 10:
        spoken = f"{en_cardinal(h12)} oh {EN_DIGITS[minute]}"
    else:
        spoken = f"{en_cardinal(h12)} {en_cardinal(minute)}"
    return f"{spoken} {suffix}"


def _suffix(raw: str | None) -> str | None:
    if not raw:
        return None
    return "a m" if raw.lower().startswith("a") else "p m"


def _time(m: re.Match[str]) -> str:
    return _clock(int(m["h"]), int(m["min"] or 0), _suffix(m["ap"]))


def _money(amount: str, unit: str, cents: str) -> str:
    whole, _, frac = amount.partition(".")
    out = en_cardinal(int(whole or "0")) + " " + unit
    sub = round(float("0." + frac) * 100) if frac else 0
    return (
        out + (f" {en_cardinal(sub)}" if sub else "")
        if unit != "dollars"
        else (out + (f" and {en_cardinal(sub)} {cents}" if sub else ""))
    )


def _integer(m: re.Match[str]) -> str:
    digits = m.group()
    if len(digits) >= 5 or (digits.startswith("0") and len(digits) > 1):
        return en_digits(digits)
    return en_cardinal(int(digits))


def _capitals(m: re.Match[str]) -> str:
    word = m.group()
    if word.lower() in LEXICON:
        return LEXICON[word.lower()]
    return " ".join(word)


Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

RULES: list[Rule] = [
    (re.compile(r"(?i)(?<![A-Za-z])(wi-?fi|wlan)(?![A-Za-z])"), lambda m: LEXICON[m.group().lower()]),
    # dates
    (re.compile(_NB + r"(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})" + _NA), _iso_date),
    (
        re.compile(
            r"(?i)\b(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r"(?![a-z])(?:,?\s+(?P<y>\d{4}))?"
        ),
        _day_month,
    ),
    (
        re.compile(r"(?i)\b" + _MONTH + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(?P<y>\d{4})\b)?"),
        _month_day,
    ),
    (
        re.compile(r"(?i)\b(?P<w>in|since|by|until|from|year)\s+(?P<y>1[89]\d\d|20\d\d)\b"),
        lambda m: f"{m['w']} {year(int(m['y']))}",
    ),
    # times
    (
        re.compile(
            r"(?i)(?<![\d:])(?P<h>[01]?\d|2[0-3]):(?P<min>[0-5]\d)(?![\d:])"
            r"(?:\s*(?P<ap>[ap]\.?\s?m)(?:\.(?=\S|\s(?-i:[a-z])))?(?![a-z]))?"
        ),
        _time,
    ),
    (
        re.compile(
            r"(?i)\b(?P<h>1[0-2]|0?[1-9])(?P<min>)\s*(?P<ap>[ap]\.?m)(?:\.(?=\S|\s(?-i:[a-z])))?(?![a-z])"
        ),
        _time,
    ),
    # phone numbers
    (re.compile(_NB + r"(0\d{2,3})[-\s](\d{7,8})" + _NA), lambda m: en_digits(m[1]) + ", " + phone(m[2])),
    (re.compile(_NB + r"(1[3-9]\d)[-\s]?(\d{4})[-\s]?(\d{4})" + _NA), lambda m: phone(m.group())),
    (
        re.compile(_NB + r"([48]00)[-\s]?(\d{3})[-\s]?(\d{4})" + _NA),
        lambda m: ", ".join(en_digits(g) for g in m.groups()),
    ),
    (
        re.compile(r"(?i)(?P<cue>\b(?:call|dial|phone|number|line|mobile|on)\s+)(?P<num>\d{3,12})" + _NA),
        lambda m: m["cue"] + phone(m["num"]),
    ),
    # references and work orders
    (
        re.compile(
            r"(?i)(?P<cue>\b(?:reference|ref\.?|work order|order|ticket|case)(?:\s+(?:number|no\.?))?"
            r"(?:\s+is|:)?\s*#?\s*)(?P<code>[A-Za-z]*\d[A-Za-z0-9-]*)"
        ),
        lambda m: m["cue"] + code(m["code"]),
    ),
    # money and percentages
    (re.compile(r"[¥￥]\s*(\d+(?:\.\d+)?)"), lambda m: _money(m[1], "yuan", "")),
    (re.compile(r"(?i)\bRMB\s*(\d+(?:\.\d+)?)"), lambda m: _money(m[1], "yuan", "")),
    (re.compile(r"(?i)" + _NB + r"(\d+(?:\.\d+)?)\s*(?:yuan|RMB|CNY)\b"), lambda m: _money(m[1], "yuan", "")),
    (re.compile(r"\$\s*(\d+(?:\.\d+)?)"), lambda m: _money(m[1], "dollars", "cents")),
    (re.compile(_NB + r"(\d+(?:\.\d+)?)\s*%"), lambda m: en_number(m[1]) + " percent"),
    # rooms and buildings
    (
        re.compile(r"(?i)\b(?P<unit>room|flat|apartment|suite|unit)\s+(?:no\.?\s*)?(?P<n>\d+)" + _NA),
        lambda m: m["unit"] + " " + _oh_digits(m["n"]),
    ),
    # ranges, ordinals, decimals, service numbers, the rest
    (
        re.compile(_NB + r"(\d+(?:\.\d+)?)\s*[-~–]\s*(\d+(?:\.\d+)?)" + _NA),
        lambda m: en_number(m[1]) + " to " + en_number(m[2]),
    ),
    (re.compile(r"(?i)\b(\d+)(?:st|nd|rd|th)\b"), lambda m: en_ordinal(int(m[1]))),
    (re.compile(_NB + r"\d+\.\d+" + _NA), lambda m: en_number(m.group())),
    (re.compile(_NB + "(?:" + "|".join(SERVICE_NUMBERS) + ")" + _NA), lambda m: en_digits(m.group())),
    (
        re.compile(r"(?<![\d,])\d{1,3}(?:,\d{3})+(?![\d,])"),
        lambda m: en_cardinal(int(m.group().replace(",", ""))),
    ),
    (re.compile(r"\d+"), _integer),
    # capitals: a lexicon word (APP -> app), otherwise letter by letter (ID -> I D)
    (re.compile(r"(?<![A-Za-z])(?:[A-Z]{2,5}|App)(?![A-Za-z])"), _capitals),
]


def normalise_en(text: str) -> str:
    for pattern, replace in RULES:
        text = pattern.sub(replace, text)
    return text
