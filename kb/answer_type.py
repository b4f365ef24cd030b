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
_ASKS = {
    AMOUNT: re.compile(
        r"\bhow much (is|are|was|were|does|do|did|will|would|should|must|to|for|it|money)\b"
        r"|\bwhat (does|do|will|would|did)\b[^?.]{0,40}\bcost\b"
        r"|\b(the|a|any) (fine|penalty)s? (for|if|when)\b"
        r"|\bwhat('s| is| are) the (fee|price|cost|charge|fine|penalty)s?\b"
        r"|\b(cost|price)s? of\b|\bis (it|there a|there any) (free|fee|charge|fine|penalty)\b|\bfined\b"
        r"|多少钱|收不收费|收费吗|怎么收费|收费标准|收多少|费用是多少|费用多少|多少费用|价格|罚款|罚多少|罚钱|要钱|要不要钱|花多少|几块|多少元|贵不贵|免费吗|交多少|要交钱",
        re.IGNORECASE,
    ),
    AGE: re.compile(
        r"\bhow old\b|\bwhat age\b|\b(retirement|retire|minimum|legal|pension|school|starting) age\b"
        r"|\bage (limit|of)\b|多少岁|几岁|多大年纪|年龄",
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
