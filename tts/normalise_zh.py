"""Mandarin hotline text -> what the voice should say, in Chinese characters.

The rules, in the order they apply (each sees what the earlier ones left):
  Latin terms        WiFi -> 无线网络; APP, ETC -> letter names (诶批批)
  dates              2026-11-23, 2026年11月23日 -> 二零二六年十一月二十三日; 11月23号 -> 十一月二十三号
  times              15:30 -> 十五点三十分; 8:05 -> 八点零五分; 14:00 -> 十四点; 2:00 -> 两点
  phone numbers      digit by digit, 1 as 幺, grouped with pauses: 13812345678 -> 幺三八 幺二三四 五六七八;
                     010-12345678; 400-123-4567; numbers after 拨打/致电/电话/热线/号码; 110, 12345, 95598
  work orders        工单编号是325618 / 单号A1023 -> digit by digit (幺), letters by name
  money              ¥35.50, 35.5元 -> 三十五元五角; 2.5万元 -> 二点五万元; 3块5 stays 三块五
  percentages        35% -> 百分之三十五
  rooms, buildings   501室 -> 五零一室; 3栋2单元1201 -> 三栋二单元一二零一; 12层 -> 十二层
  ranges             3-5天 -> 三到五天
  everything else    decimals 3.5 -> 三点五; counts 2个 -> 两个; five or more digits one by one; cardinals
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tts.numbers import phone_groups, zh_cardinal, zh_counted, zh_digits, zh_number

LETTER_NAMES = {
    "A": "诶", "B": "比", "C": "西", "D": "迪", "E": "伊", "F": "艾弗", "G": "吉", "H": "艾尺",
    "I": "艾", "J": "杰", "K": "开", "L": "艾勒", "M": "艾姆", "N": "恩", "O": "欧", "P": "批",
    "Q": "丘", "R": "阿尔", "S": "艾斯", "T": "踢", "U": "优", "V": "维", "W": "达不溜", "X": "艾克斯",
    "Y": "歪", "Z": "贼",
}  # fmt: skip
"""How Mandarin speakers say Latin letter names, in characters every Mandarin voice can read."""

# Latin terms Mandarin callers say as a Chinese word.
LEXICON = {"wifi": "无线网络", "wi-fi": "无线网络", "wlan": "无线网络"}
# Hotline and emergency numbers said digit by digit even without a cue word (幺幺零, not 一百一十).
SERVICE_NUMBERS = ("110", "119", "120", "122", "114", "12345", "12315", "12320", "12333", "12369", "95598")
_COUNTED = "个位次天小时分钟名件张种周本台辆套间户条份项岁点"
_NB = r"(?<![\d.])"  # no digit (or decimal point) before
_NA = r"(?![\d.]*\d)"  # no digit after, even past a decimal point


def letters(word: str) -> str:
    return "".join(LETTER_NAMES.get(ch.upper(), ch) for ch in word)


def code(text: str) -> str:
    """A reference or work-order code: digits one by one (1 as 幺), letters by name."""
    return "".join(zh_digits(ch) if ch.isdigit() else LETTER_NAMES.get(ch.upper(), "") for ch in text)


def phone(digits: str) -> str:
    digits = re.sub(r"\D", "", digits)
    groups = phone_groups(digits)
    if not groups:
        return zh_digits(digits)
    parts, start = [], 0
    for size in groups:
        parts.append(zh_digits(digits[start : start + size]))
        start += size
    return " ".join(parts)


def _date(m: re.Match[str]) -> str:
    year, month, day = m["y"], int(m["m"]), int(m["d"])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return m.group()
    out = (zh_digits(year, "一") + "年") if year else ""
    return out + zh_cardinal(month) + "月" + zh_cardinal(day) + (m["unit"] or "日")


def _time(m: re.Match[str]) -> str:
    hour, minute = int(m["h"]), int(m["min"])
    out = zh_counted(hour) + "点"
    if minute:
        out += ("零" if minute < 10 else "") + zh_cardinal(minute) + "分"
    return out


def money(amount: str) -> str:
    """'35.50' -> 三十五元五角, '0.05' -> 五分, '1200' -> 一千二百元."""
    whole, _, frac = amount.partition(".")
    yuan = int(whole or "0")
    fen = round(float("0." + frac) * 100) if frac else 0
    jiao, fen = divmod(fen, 10)
    out = (zh_counted(yuan) + "元") if yuan or not (jiao or fen) else ""
    if jiao:
        out += zh_counted(jiao) + "角"
    if fen:
        out += ("零" if yuan and not jiao else "") + zh_counted(fen) + "分"
    return out


def _room(m: re.Match[str]) -> str:
    return zh_digits(m["n"], "一") + m["unit"]


def _building(m: re.Match[str]) -> str:
    n = m["n"]
    return (zh_cardinal(int(n)) if len(n) <= 2 else zh_digits(n, "一")) + m["unit"]


def _integer(m: re.Match[str]) -> str:
    digits = m.group()
    if len(digits) >= 5 or (digits.startswith("0") and len(digits) > 1):
        return zh_digits(digits)
    return zh_cardinal(int(digits))


Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

RULES: list[Rule] = [
    # Latin terms said as a word, then codes that mix letters and digits are left for later
    (re.compile(r"(?i)(?<![A-Za-z])(wi-?fi|wlan)(?![A-Za-z])"), lambda m: LEXICON[m.group().lower()]),
    # dates
    (re.compile(_NB + r"(?P<y>\d{4})([-/.])(?P<m>\d{1,2})\2(?P<d>\d{1,2})(?P<unit>[日号])?" + _NA), _date),
    (re.compile(_NB + r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*(?P<unit>[日号])"), _date),
    (re.compile(_NB + r"(?P<y>)(?P<m>\d{1,2})月(?P<d>\d{1,2})(?P<unit>[日号])"), _date),
    (re.compile(_NB + r"(\d{4})年"), lambda m: zh_digits(m[1], "一") + "年"),
    (re.compile(_NB + r"(\d{1,2})月"), lambda m: zh_cardinal(int(m[1])) + "月"),
    # times
    (re.compile(r"(?<![\d:：])(?P<h>[01]?\d|2[0-3])[:：](?P<min>[0-5]\d)(?![\d:：])"), _time),
    # phone numbers
    (re.compile(_NB + r"(0\d{2,3})[-\s]?(\d{7,8})" + _NA), lambda m: zh_digits(m[1]) + " " + phone(m[2])),
    (re.compile(_NB + r"(1[3-9]\d)[-\s]?(\d{4})[-\s]?(\d{4})" + _NA), lambda m: phone(m.group())),
    (
        re.compile(_NB + r"([48]00)[-\s]?(\d{3})[-\s]?(\d{4})" + _NA),
        lambda m: " ".join(zh_digits(g) for g in m.groups()),
    ),
    (
        re.compile(
            r"(?P<cue>拨打|致电|打|电话|热线|号码|手机|手机号)(?P<sep>是|为|[:：])?\s*(?P<num>\d{3,12})" + _NA
        ),
        lambda m: m["cue"] + (m["sep"] or "") + phone(m["num"]),
    ),
    # work-order and reference numbers
    (
        re.compile(
            r"(?P<cue>工单编号|工单号|编号|单号|受理号|回执号|订单号|工单)(?P<sep>是|为|[:：])?\s*"
            r"(?P<code>[A-Za-z]*\d[A-Za-z0-9-]*)"
        ),
        lambda m: m["cue"] + (m["sep"] or "") + code(m["code"].replace("-", "")),
    ),
    # money and percentages
    (re.compile(r"[¥￥]\s*(\d+(?:\.\d+)?)"), lambda m: money(m[1])),
    (re.compile(_NB + r"(\d+(?:\.\d+)?)\s*(万|亿)\s*(元)?"), lambda m: zh_number(m[1]) + m[2] + (m[3] or "")),
    (re.compile(_NB + r"(\d+(?:\.\d+)?)\s*元"), lambda m: money(m[1])),
    (re.compile(_NB + r"(\d+(?:\.\d+)?)\s*[%％]"), lambda m: "百分之" + zh_number(m[1])),
    # rooms and buildings
    (re.compile(_NB + r"(?P<n>\d+)\s*(?P<unit>室|房间|房)"), _room),
    (re.compile(r"(?<=单元)(?P<n>\d{3,4})(?P<unit>)" + _NA), _room),
    (re.compile(_NB + r"(?P<n>\d+)\s*(?P<unit>号楼|栋|幢|座|单元|层|楼)"), _building),
    # ranges, decimals, counts, service numbers, the rest
    (
        re.compile(_NB + r"(\d+(?:\.\d+)?)\s*[-~～—]\s*(\d+(?:\.\d+)?)" + _NA),
        lambda m: zh_number(m[1]) + "到" + zh_number(m[2]),
    ),
    (re.compile(_NB + r"\d+\.\d+" + _NA), lambda m: zh_number(m.group())),
    (re.compile(r"(?<![\d.第])2(?=[" + _COUNTED + "])"), lambda m: "两"),
    (re.compile(_NB + "(?:" + "|".join(SERVICE_NUMBERS) + ")" + _NA), lambda m: zh_digits(m.group())),
    (re.compile(r"\d+"), _integer),
    # Latin abbreviations (APP, ETC, ID, PM): letter names
    (re.compile(r"(?<![A-Za-z])(?:[A-Z]{1,6}|[Aa]pp)(?![A-Za-z])"), lambda m: letters(m.group())),
]


def normalise_zh(text: str) -> str:
    for pattern, replace in RULES:
        text = pattern.sub(replace, text)
    return text
