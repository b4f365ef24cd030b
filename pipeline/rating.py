"""The caller's answer to "please rate this call from 1 to 5" as 1..5, or None when it is not a rating
(a goodbye, a question, a count, a phone number). Pure: text in, number out. The choices:
- A number counts where a rater says it: alone or among filler words ("um, four I guess", "嗯，四吧"),
  after give / rate / say / a / 打 / 给 ("I'd give it a three", "给个4"), or before stars and points
  ("four stars", "4分", "三颗星"); not beside another number (a phone number) nor before a counted
  thing ("five times", "五分钟", "一下").
- Above 5 is not a rating ("a ten", "打十分"), but a score on a scale the caller names is scaled:
  "ten out of ten" and "10/10" are 5, "8/10" is 4 (the caller told us where the top is).
- Words: "very satisfied" / 非常满意 5, "satisfied" / 满意 4, "okay" / 一般 3, "not satisfied" / 不满意 2,
  "terrible" / 非常不满意 1. An intensifier moves 4 to 5 and 2 to 1; a negation makes a positive or
  neutral word 2 ("not good") and a negative one 3 ("not bad"); "at all" pushes it to the end.
- A number wins over words; of several, the last said wins ("four, no, five"): callers correct themselves.
- `language` is the recogniser's guess; the script of the words decides when they disagree.
"""

from __future__ import annotations

import re
import unicodedata


def _words(text: str) -> set[str]:
    return set(text.split())


EN_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
EN_NUMBERS |= {"nine": 9, "ten": 10, "hundred": 100}
EN_LONE_SOUNDALIKES = {"won": 1, "to": 2, "too": 2, "for": 4}  # how a lone number may be written
EN_RATING_NOUNS = {"star", "stars", "point", "points"}
EN_COUNTED = _words(
    "time times minute minutes hour hours day days week weeks month months year years second seconds "
    "call calls people person more of o'clock am pm dollars percent"
)
EN_CUES = {"give", "giving", "gave", "rate", "rating", "rated", "score", "say", "a", "an"}
EN_FILLERS = EN_CUES | _words(
    "um uh er erm hmm mm oh ah well so yeah yes no sorry actually wait i i'd i'll i'm would will think "
    "guess maybe probably like just definitely it it's its is was be that that's this my the solid you "
    "guys call please thanks thank overall and then about honestly easily"
)
EN_DISCOURSE = {"okay", "ok", "alright", "right", "well", "so", "yes", "yeah"}  # "okay, bye"
EN_LEVELS = {
    5: "excellent great perfect amazing fantastic wonderful awesome outstanding brilliant best",
    4: "good satisfied happy pleased helpful nice",
    3: "okay ok alright average fine soso mediocre decent acceptable",
    2: "poor bad dissatisfied unsatisfied unhappy disappointed disappointing unhelpful",
    1: "terrible awful horrible worst useless dreadful",
}
EN_WORDS = {word: level for level, words in EN_LEVELS.items() for word in words.split()}
EN_INTENSIFIERS = _words(
    "very really extremely super so totally completely absolutely highly incredibly truly"
)
EN_NEGATORS = {"not", "never", "no", "hardly"}  # and every "...n't"
EN_BETWEEN = {"that", "too", "at", "all", "particularly", "entirely", "exactly", "the", "it", "was", "is"}
EN_MASKS = re.compile(r"\bgood[\s-]*(?:bye|night|morning|afternoon|evening)\b|\b(?:i'?m|i am|we'?re) good\b")

_I = "非常|十分|很|特别|太|极其|超级|相当|超"  # intensifiers
_N = "不|没有|没"  # negations
_S = "是很|是太|是特别|是非常|是十分|是那么|是|太|很|怎么|那么|大|算|够"  # softeners after a negation
_P = "满意|好|棒"  # positive words a negation can turn
ZH_LEVELS = [  # tried in this order at each position, so longer phrases come first
    (rf"一点儿?[都也]不(?:{_P})|(?:{_I})(?:{_N})(?:{_S})?(?:{_P})", 1),
    (rf"(?:{_N})(?:{_S})?(?:{_P})", 2),
    (rf"(?:{_I})(?:满意|不错|好|棒)|满分|好评", 5),
    (r"一般般?|还行|还可以|还好|马马虎虎|凑合|中规中矩|中评", 3),
    (r"(?:比较|挺|还算|还挺|蛮|还)?(?:满意|不错)|(?:比较|挺|蛮)(?:好|棒)", 4),
    (rf"(?:{_I})(?:差|糟糕|烂)|极差|差劲|糟糕|糟透|差评", 1),
    (r"(?:比较|较|有点|有些|挺)差|不行", 2),
]
ZH_WORDS = re.compile("|".join(f"({pattern})" for pattern, _ in ZH_LEVELS))
ZH_MASKS = re.compile(r"不好意思|差不多|差点|满意度|一般来说|一般都")  # words that only look like ratings
ZH_DIGITS = {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_NUMERAL = "0-9零〇幺一二两三四五六七八九十百千万点"
ZH_NUMBER = re.compile(rf"(?<![{_NUMERAL}])([1-5一二两三四五])(?![{_NUMERAL}])")
ZH_COUNTED = re.compile(r"分钟|分之|小时|[个次下直起样些遍会天年月号位条件块元岁周趟楼层路般定共切口边半]")
ZH_POINTS = re.compile(r"分|颗?星|个星")
ZH_CUE_BEFORE = re.compile(r"(?:打|给|评|选|是)(?:个|了|它|你们|您|一个)?$")
ZH_FILLERS = re.compile(r"[\W_嗯啊呃额哦噢那就吧呢啦了的我想算给打]|觉得|应该|可能|大概|谢谢")
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[a-z]")


def parse_rating(text: str, language: str) -> int | None:
    """1..5 from a caller's answer to the rating question, or None when it is not a rating."""
    text = unicodedata.normalize("NFKC", text).lower().strip()
    mandarin = CJK.search(text) or (language.startswith("zh") and not LATIN.search(text))
    return _mandarin(text) if mandarin else _english(text)


def _english(text: str) -> int | None:
    text = re.sub(r"(\d+)\s*/\s*(\d+)", r"\1 out of \2", EN_MASKS.sub(" ", text))
    text = re.sub(r"\bso[\s-]+so\b", "soso", text)
    tokens = re.findall(r"[a-z]+(?:'[a-z]+)?|\d+", text)
    if len(tokens) > 1 and tokens[0] in EN_DISCOURSE:
        tokens = tokens[1:]
    if len(tokens) == 1 and tokens[0] in EN_LONE_SOUNDALIKES:
        return EN_LONE_SOUNDALIKES[tokens[0]]
    nums = [int(t) if t.isdigit() and len(t) <= 3 else EN_NUMBERS.get(t) for t in tokens]
    around = EN_FILLERS | EN_RATING_NOUNS | EN_INTENSIFIERS | set(EN_WORDS)
    only_fillers = all(n is not None or t in around for t, n in zip(tokens, nums, strict=True))
    numbers: list[int] = []
    denominators: set[int] = set()
    for i, n in enumerate(nums):
        if n is None or i in denominators:
            continue
        j = i + 2 if tokens[i + 1 : i + 2] == ["out"] else i + 1  # where "of" would be
        if tokens[j : j + 1] == ["of"] and j + 1 < len(nums) and (top := nums[j + 1]):
            denominators.add(j + 1)
            if 0 <= n <= top:
                numbers.append(max(1, int(n * 5 / top + 0.5)))
            continue
        next_token = tokens[i + 1] if i + 1 < len(tokens) else ""
        beside_number = (i > 0 and nums[i - 1] is not None) or (i + 1 < len(nums) and nums[i + 1] is not None)
        if not 1 <= n <= 5 or beside_number or next_token in EN_COUNTED:
            continue
        if next_token in EN_RATING_NOUNS or only_fillers or _cue_before(tokens, i):
            numbers.append(n)
    if numbers:
        return numbers[-1]
    said = [_english_word(tokens, i, text) for i, t in enumerate(tokens) if t in EN_WORDS]
    return said[-1] if said else None


def _cue_before(tokens: list[str], i: int) -> bool:
    """A rating cue ("give", "rate", "a") shortly before token i, with only filler words between."""
    for k in range(i - 1, max(i - 4, -1), -1):
        if tokens[k] in EN_CUES:
            return True
        if tokens[k] not in EN_FILLERS:
            return False
    return False


def _english_word(tokens: list[str], i: int, text: str) -> int:
    value, intensified, negated = EN_WORDS[tokens[i]], False, False
    for k in range(i - 1, max(i - 4, -1), -1):
        if tokens[k] in EN_NEGATORS or tokens[k].endswith("n't"):
            negated = True
            break
        if tokens[k] in EN_INTENSIFIERS:
            intensified = True
        elif tokens[k] not in EN_BETWEEN:
            break
    at_all = "at all" in text
    if negated:
        return (1 if at_all else 2) if value >= 3 else (4 if at_all else 3)
    return {4: 5, 2: 1}.get(value, value) if intensified else value


def _mandarin(text: str) -> int | None:
    said: list[int] = []

    def take(match: re.Match[str]) -> str:
        said.append(ZH_LEVELS[(match.lastindex or 1) - 1][1])
        return " " * len(match.group())

    text = ZH_WORDS.sub(take, ZH_MASKS.sub(" ", text))
    only_fillers = ZH_FILLERS.sub("", ZH_POINTS.sub("", text))
    numbers = []
    for m in ZH_NUMBER.finditer(text):
        after, before = text[m.end() :], text[: m.start()].rstrip()
        if ZH_COUNTED.match(after):
            continue
        if ZH_POINTS.match(after) or ZH_CUE_BEFORE.search(before) or only_fillers == m.group(1):
            numbers.append(ZH_DIGITS[m.group(1)])
    if numbers:
        return numbers[-1]
    return said[-1] if said else None
