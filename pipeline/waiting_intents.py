"""What a caller waiting for a person asks for: to be called back instead, or to keep waiting.

A pure function over the transcript, no model: the phrases are few and callers say them in a few
set ways, and a false "call me back" ends a call, so only a request counts, never a report of one:

- ``"call_back"``: "call me back", "can someone ring me later", "I'd like a callback",
  "给我回电话", "回头打给我", "不等了，你们打回来吧".
  Not a request: "he called me back yesterday", "you never called me back", "don't call me back",
  "上次说好给我回电话", "他昨天给我回电话了", "不用回电话".
- ``"wait"``: "I'll wait", "I can hold", "I'll stay on the line", "我等", "我再等等", "我不挂".
  Not: "I can't wait", "I've been waiting an hour", "我等了半个小时了", "我等不了".
- Giving up without naming a call back ("I don't want to wait any more", "我不等了", "等不及了")
  counts as a call-back request only when the bot has offered one (``callback_offered``): the
  caller then answers that offer. Before any offer it returns None, and the caller goes on waiting
  (nothing is lost: hanging up on an urgent handoff opens a call-back task anyway,
  pipeline/callback_rules.py), so a complaint about the wait never ends a call by itself.

A turn is read clause by clause (commas and full stops), so "不等了，你们打回来吧" and
"no, don't wait, call me back" are requests, while a negation in the same clause cancels one.
"""

from __future__ import annotations

import re
from typing import Literal

WaitingIntent = Literal["call_back", "wait"]

_CLAUSES = re.compile(r"[,.;!?，。；！？、]+|\bbut\b")

# --- English ---------------------------------------------------------------------------------------
_EN_CALL_BACK = re.compile(
    r"\b(?:call|ring|phone)\s+(?:me|us)\s+(?:back|later|instead|when)\b"
    r"|\b(?:call|ring|phone)\s+me\s+on\b"
    r"|\b(?:a|get\s+a|request\s+a|have\s+a|want\s+a|prefer\s+a)\s+(?:call\s*back|callback|call\s+later)\b"
    r"|\b(?:someone|somebody|an?\s+agent|a\s+person|you)\s+(?:to\s+)?(?:call|ring|phone)\s+me\b"
    r"|\bget\s+back\s+to\s+me\b"
)
_EN_NOT_A_REQUEST = re.compile(
    r"\b(?:never|didn'?t|did\s+not|don'?t|do\s+not|not|won'?t|no\s+need\s+to|supposed\s+to|"
    r"promised(?:\s+to)?|said|told\s+me|was\s+going\s+to|were\s+going\s+to|forgot\s+to)"
    r"\s+(?:\w+\s+){0,2}$"
)
_EN_PAST = re.compile(r"\b(?:yesterday|last\s+(?:time|week|night)|already|earlier\s+today|ago)\b")
_EN_WAIT = re.compile(
    r"\bi(?:'ll|\s+will|'d\s+rather|\s+would\s+rather|\s+can|\s+don'?t\s+mind|\s+do\s+not\s+mind|"
    r"'m\s+happy\s+to|\s+am\s+happy\s+to|'m\s+ok(?:ay)?\s+to|'m\s+fine\s+to)\s+"
    r"(?:just\s+|still\s+|keep\s+|continue\s+to\s+|stay\s+and\s+)?"
    r"(?:wait|waiting|hold|holding|hang\s+on|stay\s+on\s+the\s+line)\b"
    r"|\bi'?ll\s+(?:keep|stay)\s+(?:waiting|holding|on\s+hold)\b"
)
_EN_GIVE_UP = re.compile(
    r"\b(?:can'?t|cannot|won'?t|don'?t\s+want\s+to|do\s+not\s+want\s+to|not\s+going\s+to|"
    r"no\s+longer|can'?t\s+keep|not)\s+(?:\w+\s+)?(?:wait|waiting|hold|holding)\b"
    r"|\b(?:done|tired\s+of|sick\s+of|fed\s+up\s+with)\s+waiting\b"
)

# --- Mandarin --------------------------------------------------------------------------------------
_ZH_CALL_BACK = re.compile(
    r"回(?:个|一个)?电话|回电|回拨|打回来|打回给我|(?:再|回头|稍后|晚点|等会儿?|过会儿?)(?:再)?(?:打给我|打过来|联系我)"
    r"|给我(?:打|来)(?:个|一个)?电话|给我打过来|(?:你们|你)打给我"
)
_ZH_NOT_A_REQUEST = re.compile(r"(?:不用|不要|别|没|没有|不必|甭|说好|说过|答应|上次|昨天|之前|已经|刚才)")
_ZH_PAST_AFTER = re.compile(r"^(?:了|过)")
_ZH_WAIT = re.compile(
    r"我(?:就|先|再|还是|继续|可以|愿意|能)?(?:等|排队|排着)(?:着|一下|一会儿?|等|吧|啊|的)*(?![了不])"
    r"|(?:继续|再)等(?:等|一下|一会儿?)?(?![了不])|我不挂|不挂(?:机|电话)"
)
_ZH_GIVE_UP = re.compile(r"不(?:想)?等了|不想等|等不了|等不及|不排(?:队)?了|不想排")


def waiting_intent(text: str, language: str, callback_offered: bool = False) -> WaitingIntent | None:
    """``"call_back"``, ``"wait"`` or None for one caller turn while they wait for a person.

    ``callback_offered``: the bot has told this caller they can be called back, so a bare
    "I don't want to wait" (我不等了) answers that offer."""
    zh = language.startswith("zh") or bool(re.search(r"[\u4e00-\u9fff]", text))
    clauses = [c.strip() for c in _CLAUSES.split(text.lower()) if c and c.strip()]
    if any(_asks_call_back(c, zh) for c in clauses):
        return "call_back"
    gives_up = any((_ZH_GIVE_UP if zh else _EN_GIVE_UP).search(c) for c in clauses)
    if gives_up:
        return "call_back" if callback_offered else None
    if any((_ZH_WAIT if zh else _EN_WAIT).search(c) for c in clauses):
        return "wait"
    return None


def _asks_call_back(clause: str, zh: bool) -> bool:
    if zh:
        for m in _ZH_CALL_BACK.finditer(clause):
            before, after = clause[: m.start()], clause[m.end() :]
            if not _ZH_NOT_A_REQUEST.search(before) and not _ZH_PAST_AFTER.match(after):
                return True
        return False
    if _EN_PAST.search(clause):
        return False
    return any(not _EN_NOT_A_REQUEST.search(clause[: m.start()]) for m in _EN_CALL_BACK.finditer(clause))
