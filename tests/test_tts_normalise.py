"""Hotline text normalisation before synthesis: what the bot says for numbers, times, dates, money,
rooms, codes and abbreviations, in Mandarin and English."""

from __future__ import annotations

import pytest

from tts.numbers import en_cardinal, en_ordinal, zh_cardinal
from tts.prompts import render_prompt
from tts.text import chunk_text, normalise

ZH_CASES = [
    # phone numbers: digit by digit, 1 as 幺, grouped as people read them
    ("请拨打13812345678联系我们", "请拨打幺三八 幺二三四 五六七八联系我们"),
    ("您的电话是010-12345678", "您的电话是零幺零 幺二三四 五六七八"),
    ("客服电话400-123-4567", "客服电话四零零 幺二三 四五六七"),
    ("请立刻拨打110", "请立刻拨打幺幺零"),
    ("这里是12345热线", "这里是幺二三四五热线"),
    ("停电请打95598", "停电请打九五五九八"),
    # work orders and references: digit by digit, letters by name
    ("工单编号是325618。", "工单编号是三二五六幺八。"),
    ("您的单号：A1023", "您的单号：诶幺零二三"),
    # times
    ("营业时间15:30到17:00", "营业时间十五点三十分到十七点"),
    ("8:05出发", "八点零五分出发"),
    ("下午2点开门", "下午两点开门"),
    # dates
    ("2026年11月23日停水", "二零二六年十一月二十三日停水"),
    ("2026-11-23停水", "二零二六年十一月二十三日停水"),
    ("11月23号恢复", "十一月二十三号恢复"),
    # money and percentages
    ("费用是35.50元", "费用是三十五元五角"),
    ("¥0.05", "五分"),
    ("共1200元", "共一千二百元"),
    ("补贴2.5万元", "补贴二点五万元"),
    ("涨了35%", "涨了百分之三十五"),
    # rooms and buildings
    ("住在501室", "住在五零一室"),
    ("3栋2单元1201", "三栋二单元一二零一"),
    ("12层", "十二层"),
    # Latin abbreviations
    ("下载APP", "下载诶批批"),
    ("连不上WiFi", "连不上无线网络"),
    ("PM2.5超标", "批艾姆二点五超标"),
    # the rest
    ("3-5个工作日", "三到五个工作日"),
    ("3.5公里", "三点五公里"),
    ("2个人", "两个人"),
    ("您排在第2位", "您排在第二位"),
    ("从1到5分", "从一到五分"),
    ("88号", "八十八号"),
]

EN_CASES = [
    ("Please call 13812345678.", "Please call one three eight, one two three four, five six seven eight."),
    ("Our number is 010-12345678.", "Our number is zero one zero, one two three four, five six seven eight."),
    ("Hang up and call 120 now.", "Hang up and call one two zero now."),
    ("This is the 12345 hotline.", "This is the one two three four five hotline."),
    ("Your work order number is 325618.", "Your work order number is three two five six one eight."),
    ("Reference A1023.", "Reference A one zero two three."),
    ("We open at 15:30 and close at 17:00.", "We open at three thirty p m and close at five p m."),
    ("Leave at 8:05.", "Leave at eight oh five a m."),
    ("Open from 9am to 5 p.m. on weekdays.", "Open from nine a m to five p m on weekdays."),
    ("On 2026-11-23 the water is off.", "On November twenty-third, twenty twenty-six the water is off."),
    ("From 23 November.", "From the twenty-third of November."),
    ("The fee is ¥35.50.", "The fee is thirty-five yuan fifty."),
    ("It is $12.30.", "It is twelve dollars and thirty cents."),
    ("Prices rose 35%.", "Prices rose thirty-five percent."),
    ("Room 501, Building 3.", "Room five oh one, Building three."),
    ("Download the APP and connect to WiFi.", "Download the app and connect to Wi-Fi."),
    ("Bring your ID.", "Bring your I D."),
    ("It takes 3-5 days.", "It takes three to five days."),
    ("About 1,200 homes on the 1st floor", "About one thousand two hundred homes on the first floor"),
    ("Rate from 1 to 5.", "Rate from one to five."),
]


@pytest.mark.parametrize(("text", "said"), ZH_CASES)
def test_mandarin_hotline_text_is_said_as_an_agent_would(text: str, said: str) -> None:
    assert normalise(text, "zh") == said


@pytest.mark.parametrize(("text", "said"), EN_CASES)
def test_english_hotline_text_is_said_as_an_agent_would(text: str, said: str) -> None:
    assert normalise(text, "en") == said


def test_numbers_read_back_for_confirmation_are_grouped_with_pauses() -> None:
    """The bot confirms a caller's number: each group of digits is its own breath."""
    zh = chunk_text(render_prompt("confirm_phone", "zh", number="13812345678"), "zh", 30, clauses=True)
    assert zh == ["您的电话号码是幺三八 幺二三四 五六七八，", "对吗？"]
    en = chunk_text(render_prompt("confirm_phone", "en", number="13812345678"), "en", 90)
    assert en[0] == "Your phone number is one three eight, one two three four, five six seven eight."
    landline = chunk_text(render_prompt("confirm_phone", "zh", number="010-87654321"), "zh", 30, clauses=True)
    assert landline[0] == "您的电话号码是零幺零 八七六五 四三二幺，"


@pytest.mark.parametrize(
    ("n", "zh", "en"),
    [
        (0, "零", "zero"),
        (10, "十", "ten"),
        (15, "十五", "fifteen"),
        (101, "一百零一", "one hundred and one"),
        (1010, "一千零一十", "one thousand and ten"),
        (2026, "两千零二十六", "two thousand and twenty-six"),
        (100000, "十万", "one hundred thousand"),
        (120034, "十二万零三十四", "one hundred and twenty thousand and thirty-four"),
    ],
)
def test_cardinals(n: int, zh: str, en: str) -> None:
    assert zh_cardinal(n) == zh and en_cardinal(n) == en


def test_ordinals() -> None:
    assert [en_ordinal(n) for n in (1, 2, 3, 12, 20, 23, 101)] == [
        "first",
        "second",
        "third",
        "twelfth",
        "twentieth",
        "twenty-third",
        "one hundred and first",
    ]


def test_text_without_numbers_is_left_alone() -> None:
    assert normalise("请问有什么可以帮您？", "zh") == "请问有什么可以帮您？"
    assert normalise("How can I help you?", "en") == "How can I help you?"
