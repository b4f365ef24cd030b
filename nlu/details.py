"""Details agents need, pulled out of a transcript: phones, places, times, ID and account numbers.

Transcripts are messy: digits may come as Chinese numerals (幺三八…), spaced out, or split by
fillers. Spoken Chinese digit runs are turned into Arabic digits first; then each kind is found by
regular expressions. ID and account numbers get a masked display form so screens and logs do not
show them whole.
"""

from __future__ import annotations

import re

from nlu.result import Details, Extracted

_ZH_DIGITS = {
    "零": "0",
    "〇": "0",
    "洞": "0",
    "幺": "1",
    "一": "1",
    "二": "2",
    "两": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
}
_EN_DIGITS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_ZH_RUN = re.compile(r"[零〇洞幺一二两三四五六七八九](?:\s*[零〇洞幺一二两三四五六七八九]){4,}")
_EN_RUN = re.compile(
    r"\b(?:(?:zero|oh|o|one|two|three|four|five|six|seven|eight|nine|double \w+)\s+){4,}"
    r"(?:zero|oh|o|one|two|three|four|five|six|seven|eight|nine)\b",
    re.IGNORECASE,
)


def normalise_digits(text: str) -> str:
    """Spoken digit runs (五五五一二三四, 'five five five one two') become digits; short numbers stay."""
    text = _ZH_RUN.sub(lambda m: "".join(_ZH_DIGITS[c] for c in m.group(0) if not c.isspace()), text)

    def en(m: re.Match[str]) -> str:
        words = m.group(0).lower().split()
        out, i = [], 0
        while i < len(words):
            if words[i] == "double" and i + 1 < len(words) and words[i + 1] in _EN_DIGITS:
                out.append(_EN_DIGITS[words[i + 1]] * 2)
                i += 2
                continue
            out.append(_EN_DIGITS.get(words[i], ""))
            i += 1
        return "".join(out)

    text = _EN_RUN.sub(en, text)
    # Digits broken by spaces or dashes ("138 1234 5678", "010-6552 1234") are one number.
    return re.sub(r"(?<=\d)[\s-]+(?=\d)", "", text)


def mask(digits: str, keep_start: int = 0, keep_end: int = 4) -> str:
    if len(digits) <= keep_start + keep_end:
        return "*" * len(digits)
    return digits[:keep_start] + "*" * (len(digits) - keep_start - keep_end) + digits[-keep_end:]


_ACCOUNT_CUE = re.compile(
    r"(户号|户口号|账号|帐号|卡号|用户号|客户号|缴费号|工单号|订单号|编号|"
    r"account(?: number)?|customer (?:number|id)|"
    r"card number|reference(?: number)?|ticket(?: number)?|meter number)\D{0,8}?([0-9a-z]{6,20})",
    re.IGNORECASE,
)
_ID_CARD = re.compile(r"(?<!\d)(\d{17}[\dXx])(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86)?(1[3-9]\d{9})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3}\d{7,8})(?!\d)")
_SHORT = re.compile(r"(?<!\d)(110|119|120|122|12345|95598|96777)(?!\d)")
_EN_PHONE = re.compile(r"(?<!\d)(\d{7,11})(?!\d)")


def _phones(text: str, used: list[tuple[int, int]]) -> list[Extracted]:
    out: list[Extracted] = []
    for kind, pattern in (
        ("mobile", _MOBILE),
        ("landline", _LANDLINE),
        ("service", _SHORT),
        ("phone", _EN_PHONE),
    ):
        for m in pattern.finditer(text):
            span = m.span(1)
            if any(a < span[1] and span[0] < b for a, b in used):
                continue
            used.append(span)
            out.append(Extracted(kind, m.group(0), m.group(1), m.group(1)))
    return out


_ZH_NUM = "[0-9零〇一二两三四五六七八九十百]+"
_ZH_SUFFIX = re.compile(
    "(新区|小区|花园|家园|新村|公寓|大厦|广场|大道|大街|胡同|区|县|镇|街道|路|街|巷|苑|园)"
    rf"(?:({_ZH_NUM})号(?!楼))?"
)
_SUFFIX_KIND = {
    "新区": "district",
    "区": "district",
    "县": "district",
    "镇": "district",
    "街道": "district",
    "路": "street",
    "街": "street",
    "大道": "street",
    "大街": "street",
    "巷": "street",
    "胡同": "street",
}
# Characters that end a place name when read backwards from its suffix ("我家住在|朝阳区").
_BOUNDARY = re.compile(r"[的在住是了个那这边里号到去从往吗呢啊吧\s0-9a-zA-Z，。、,.?？!！]")
_NOT_NAME = re.compile(
    r"^(?:[我你他她它咱这那哪每各本该某]|社|景|园|市|城|郊|辖|山|片|学|地|专|马|道|修|过|上|下)"
)
_BUILDING = [
    ("building", re.compile(rf"({_ZH_NUM})(?:栋|幢|号楼|座)")),
    ("unit", re.compile(rf"({_ZH_NUM})单元")),
    ("room", re.compile(r"(?<![0-9])([0-9]{3,4})(?:室|房|号房)")),
    ("room", re.compile(rf"(?<=单元)({_ZH_NUM})(?![0-9])")),
]
_PLACE_EN = [
    (
        "address",
        re.compile(
            r"\b(?:(?:number|no\.?)\s*)?(\d{1,5},?\s+(?:[a-z]+\s+){1,3}"
            r"(?:street|st|road|rd|avenue|ave|lane|drive|way|boulevard))\b",
            re.IGNORECASE,
        ),
    ),
    ("street", re.compile(r"\b((?:[a-z]+\s+){1,2}(?:street|road|avenue|lane|boulevard))\b", re.IGNORECASE)),
    ("district", re.compile(r"\b([a-z]+\s+district)\b", re.IGNORECASE)),
    ("estate", re.compile(r"\b([a-z]+\s+(?:estate|gardens|court|residences|apartments))\b", re.IGNORECASE)),
    ("building", re.compile(r"\b(?:building|block|tower)\s+(\d+|[a-z])\b", re.IGNORECASE)),
    ("unit", re.compile(r"\b(?:unit|entrance)\s+(\d+)\b", re.IGNORECASE)),
    ("room", re.compile(r"\b(?:room|flat|apartment|apt)\s+(\d+[a-z]?)\b", re.IGNORECASE)),
]
_EN_STOP = re.compile(
    r"^(?:(?:the|a|this|that|our|my|your|main|same|whole|on|in|at|of|near|by|to|from|along)\s+)+",
    re.IGNORECASE,
)


def _zh_places(text: str) -> list[Extracted]:
    out: list[Extracted] = []
    prev_end = 0
    for m in _ZH_SUFFIX.finditer(text):
        start = max(prev_end, m.start() - 6)
        name = text[start : m.start()]
        cut = list(_BOUNDARY.finditer(name))
        if cut:
            name = name[cut[-1].end() :]
        if len(name) < 2 or _NOT_NAME.match(name) or not re.fullmatch(r"[\u4e00-\u9fff]+", name):
            continue
        suffix = m.group(1)
        if suffix == "园" and name[-2:] in ("幼儿", "动物", "植物", "游乐", "校园", "公"):
            continue
        kind = _SUFFIX_KIND.get(suffix, "estate")
        value = name + suffix
        display = value + (f"{m.group(2)}号" if m.group(2) else "")
        out.append(Extracted(kind, text[m.start() - len(name) : m.end()], display, display))
        prev_end = m.end()
    for kind, pattern in _BUILDING:
        for m in pattern.finditer(text):
            if any(p.kind == kind and p.value == m.group(1) for p in out):
                continue
            out.append(Extracted(kind, m.group(0), m.group(1), m.group(0)))
    return out


def _places(text: str) -> list[Extracted]:
    out = _zh_places(text)
    for kind, pattern in _PLACE_EN:
        for m in pattern.finditer(text):
            value = m.group(1).strip()
            if kind == "address":  # "number 12, Riverside Road" -> "12 Riverside Road"
                value = value.replace(",", "")
            if kind in ("street", "district", "estate"):
                value = _EN_STOP.sub("", value)
                if " " not in value:
                    continue
            if kind == "street" and any(
                p.kind == "address" and value.lower() in p.value.lower() for p in out
            ):
                continue
            if not any(p.kind == kind and p.value.lower() == value.lower() for p in out):
                out.append(
                    Extracted(
                        kind, m.group(0), value, m.group(0) if kind in ("building", "unit", "room") else value
                    )
                )
    return out


_TIME_ZH = re.compile(
    rf"((?:{_ZH_NUM}年)?{_ZH_NUM}月{_ZH_NUM}[日号]|今天|明天|后天|昨天|前天|今晚|昨晚|明早|"
    rf"(?:这|上|下)?(?:周|星期|礼拜)[一二三四五六日天]|(?:早上|上午|中午|下午|傍晚|晚上|半夜|凌晨)(?:{_ZH_NUM}点(?:半|{_ZH_NUM}分)?)?|"
    rf"{_ZH_NUM}点(?:半|{_ZH_NUM}分|钟)?|{_ZH_NUM}(?:个)?(?:小时|天|分钟)(?:了|前)?)"
)
_TIME_EN = re.compile(
    r"\b(today|tomorrow|yesterday|tonight|this (?:morning|afternoon|evening)|last night|"
    r"(?:on )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
    r"\d{1,2}(?::\d{2})?\s?(?:am|pm|a\.m\.|p\.m\.)|\d{1,2}:\d{2}|"
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december)\s+\d{1,2}(?:st|nd|rd|th)?|"
    r"\d{1,2}(?:st|nd|rd|th)? of "
    r"(?:january|february|march|april|june|july|august|september|october|november|december)|"
    r"(?:for )?(?:\d+|two|three|four|five|six|ten|twelve) (?:hours|days|minutes)(?: ago)?)\b",
    re.IGNORECASE,
)


def _times(text: str) -> list[Extracted]:
    out = []
    for pattern in (_TIME_ZH, _TIME_EN):
        for m in pattern.finditer(text):
            out.append(Extracted("time", m.group(0), m.group(1), m.group(1)))
    return out


def extract_details(text: str) -> Details:
    """Everything an agent would write down from this utterance."""
    norm = normalise_digits(text)
    used: list[tuple[int, int]] = []
    ids: list[Extracted] = []
    for m in _ID_CARD.finditer(norm):
        used.append(m.span(1))
        ids.append(Extracted("id_card", m.group(0), m.group(1).upper(), mask(m.group(1).upper(), 6, 4)))
    for m in _ACCOUNT_CUE.finditer(norm):
        span = m.span(2)
        if any(a <= span[0] and span[1] <= b for a, b in used) or not any(c.isdigit() for c in m.group(2)):
            continue
        used.append(span)
        ids.append(Extracted("account", m.group(0), m.group(2), mask(m.group(2), 0, 4)))
    phones = _phones(norm, used)
    no_numbers = norm
    for a, b in sorted(used, reverse=True):
        no_numbers = no_numbers[:a] + " " * (b - a) + no_numbers[b:]
    return Details(
        phones=tuple(phones),
        places=tuple(_places(no_numbers)),
        times=tuple(_times(no_numbers)),
        ids=tuple(ids),
    )
