"""What a question asks for, and whether an entry's answer gives it.

A caller who asks "how much does a passport cost?" is not answered by an entry that says how to
apply for one and names no fee: the entry is about the right thing, the retriever is confident,
and the spoken answer would still leave the question open. Two kinds of question are recognised,
in English and Mandarin: an amount of money ("how much is", "what's the fine for", 多少钱, 罚多少) and
an age ("what age", "retirement age", 几岁). An entry gives an amount when its answer (in any
language) holds a currency or a word about price or paying ("free", "fee", "pay", 免费, 收费,
罚); a number alone is not enough ("call one two two", "four kinds of waste"). An age, when it
holds a number. A candidate that does not give what is asked is never spoken as the
answer (kb/confidence.py gives it probability 0); the call goes to narrowing or a person.

The patterns are deliberately narrow on the question side (a complaint that mentions "fees" or
"hospital costs" asks for no amount) and lenient on the answer side (any price word counts), so
the check only stops answers that plainly cannot hold what was asked. Chosen on the shipped KB's
development queries (kb/README.md has the figures).
"""

from __future__ import annotations

import re

AMOUNT = "amount"
AGE = "age"

_NUM_EN = (
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    r"forty|fifty|sixty|seventy|hundred|thousand|half)\b"
)
_PAY_WORDS = r"(cost|costs|charge|charged|pay|paid|owe|be|run)"
_ASKS = {
    AMOUNT: re.compile(
        # English: "how much is / to / for", "how much does it cost" (not "how much does it spread")
        r"\bhow much (is|are|was|were|to|for|money)\b"
        rf"|\bhow much (does|do|did|will|would|should)\b[^?.,]{{0,60}}\b{_PAY_WORDS}\b"
        r"|\bwhat (does|do|will|would|did)\b[^?.]{0,40}\bcost\b"
        r"|\bwhat(?:'s|s| is| are| was) the (?:[\w-]+ ){0,2}"
        r"(fee|price|cost|charge|fine|penalty|rate|fare|toll)s?\b"
        r"|\b(the|a|any) (fine|penalty)s? (for|if|when)\b|\b(cost|price)s? of\b"
        r"|\b(is there|there's|there is) (a|an|any) ([\w-]+ )?(fee|charge|cost|fine|penalty|toll)\b"
        r"|\b(is|are) (it|they|there) (free|a fee|a charge)\b|\b(is|are) (?!there\b)(?:[\w']+ ){1,6}free\b"
        r"|(?<!where )(?<!how )\b(what|do|does|will|would) (i|we|you|they|seniors|[\w']+) "
        r"(have to|need to|gotta|got to) pay\b"
        r"|\b(will|would|can|could) (i|we|you) (get|be) fined\b"
        # Mandarin: 多少钱, 保育费多少, 押金是多少, 收不收费, 要收钱吗, 怎么收费, 罚多少, 免费吗
        r"|多少钱|几块|多少元|花多少|交多少|贵不贵|价格|罚多少|罚钱|罚款(是)?多少|(会|要)罚款吗|罚不罚"
        r"|(费|价|金|钱)\S{0,4}多少(?!个|天|人|次|袋|小时|分钟|年|月|周|公里|米|度|吨|岁|时间|页|张|份)|(费|金)\S{0,4}怎么(收|算)|怎么收费|收费标准"
        r"|收不收(钱|费)|要不要(钱|交钱|收费|花钱)|(收|加|掏|扣|要|花)钱(吗|不|么)|要交钱"
        r"|要交\S{0,3}费吗|收\S{0,2}费(吗|么|不)|交费吗|免费(的)?吗|免不免费|是不是免费",
        re.IGNORECASE,
    ),
    AGE: re.compile(
        r"\bhow old\b|\bhow young\b|\bwhat age\b"
        r"|\b(retirement|retire|minimum|legal|pension|school|starting) age\b"
        r"|\bage (limit|of)\b|\b(youngest|oldest) (?:[\w']+ ){1,3}can be\b"
        r"|多少岁|几岁|多大年纪|多大(的)?(孩子|小孩|可以|能)|年龄",
        re.IGNORECASE,
    ),
}
_GIVES = {
    AMOUNT: re.compile(
        r"\b(free|fee|fees|cost|costs|charge|charges|charged|price|prices|fine|fines|fined|penalty|penalties|"
        r"yuan|dollars?|pounds?|euros?|cents?|rmb|cny|usd|hkd|twd|ntd|gbp|eur|pay|paid)\b|[¥$€£]|元|圆|钱|免费|费|罚|价",
        re.IGNORECASE,
    ),
    AGE: re.compile(_NUM_EN + r"|[0-9０-９]|[一二两三四五六七八九十]+\s*(岁|周岁)", re.IGNORECASE),
}


def asked(query: str) -> frozenset[str]:
    """The kinds of value the question asks for (empty: nothing this module checks)."""
    return frozenset(kind for kind, pattern in _ASKS.items() if pattern.search(query))


def given(answers: list[str]) -> frozenset[str]:
    """The kinds of value an entry's answers (all languages) can give."""
    text = "\n".join(answers)
    return frozenset(kind for kind, pattern in _GIVES.items() if pattern.search(text))
