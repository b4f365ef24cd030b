"""Details from messy transcripts, and the emergency rule layer on its own (pure logic, no model)."""

from __future__ import annotations

import pytest

from nlu.details import extract_details, mask
from nlu.rules import EmergencyRules, live_hits


def _values(items: tuple, kind: str | None = None) -> list[str]:
    return [e.value for e in items if kind is None or e.kind == kind]


def test_mandarin_address_phone_and_time_from_a_disfluent_transcript() -> None:
    d = extract_details(
        "喂喂那个我家住在朝阳区建国路88号阳光小区3栋2单元502室 "
        "电话是幺三八 一二三四 五六七八 明天下午三点有人在家"
    )
    assert _values(d.phones) == ["13812345678"]
    assert "朝阳区" in _values(d.places, "district")
    assert "建国路88号" in _values(d.places, "street")
    assert "阳光小区" in _values(d.places, "estate")
    assert _values(d.places, "building") == ["3"]
    assert _values(d.places, "unit") == ["2"]
    assert _values(d.places, "room") == ["502"]
    assert {"明天", "下午三点"} <= set(_values(d.times))


def test_chinese_numerals_for_building_and_unit() -> None:
    d = extract_details("呃我在海淀区中关村大街那个那个华清嘉园十二号楼三单元1203水管爆了")
    assert _values(d.places, "street") == ["中关村大街"]
    assert "华清嘉园" in _values(d.places, "estate")
    assert _values(d.places, "building") == ["十二"]
    assert _values(d.places, "unit") == ["三"]
    assert "1203" in _values(d.places, "room")


def test_id_and_account_numbers_are_masked_for_display() -> None:
    d = extract_details("我身份证号是11010519900307123x户号是 3 2 0 1 5 6 7 8 9 0")
    ids = {e.kind: e for e in d.ids}
    assert ids["id_card"].value == "11010519900307123X"
    assert ids["id_card"].display == "110105********123X"
    assert ids["account"].value == "3201567890"
    assert ids["account"].display == "******7890"
    assert not d.phones, "an ID or account number must not also be read as a phone number"


def test_english_spoken_digits_address_and_times() -> None:
    d = extract_details(
        "uh hi im at 42 baker street flat 3b my number is five five five double one two three four nine nine "
        "the water went off at 7 am yesterday and my account number is 8842 1190 23"
    )
    assert "5551123499" in _values(d.phones)
    assert "42 baker street" in _values(d.places, "address")
    assert _values(d.places, "room") == ["3b"]
    assert {"7 am", "yesterday"} <= set(_values(d.times))
    assert [e.display for e in d.ids] == ["******9023"]


@pytest.mark.parametrize(
    ("said", "address"),
    [
        ("The address is number 12, Riverside Road.", "12 Riverside Road"),
        ("i live at no. 5 bridge street", "5 bridge street"),
        ("it's 30 Riverside Road", "30 Riverside Road"),
    ],
)
def test_english_house_number_said_before_the_street(said: str, address: str) -> None:
    d = extract_details(said)
    assert _values(d.places, "address") == [address]
    assert not _values(d.places, "street"), "the street of an address is not a second place"


def test_no_invented_places_in_chatter() -> None:
    d = extract_details("我也不知道该找哪个区 我们小区马路上有个坑 去社区问了也没用")
    assert not d.places
    assert extract_details("").is_empty()


def test_mask_keeps_only_the_ends() -> None:
    assert mask("6222021234567890123", 0, 4) == "***************0123"
    assert mask("123", 0, 4) == "***"


def test_rules_understand_negation_tense_and_figures_of_speech() -> None:
    rules = EmergencyRules.load()
    live = {
        "着火了快来人": "fire",
        "my dad is not breathing": "breathing",
        "我喘不上气": "breathing",
        "there is a gas leak in the kitchen": "gas_leak",
        "去年着过火现在又着火了": "fire",
    }
    for text, rule in live.items():
        assert rule in {h.rule for h in live_hits(rules.scan(text))}, text
    cancelled = {
        "there was a fire last year": "past",
        "上个月着火了": "past",
        "没有着火": "negation",
        "theres no gas leak": "negation",
        "燃气灶打不着火": "figurative",
        "my feet are on fire": "figurative",
    }
    for text, why in cancelled.items():
        hits = rules.scan(text)
        assert hits and not live_hits(hits), text
        assert all(h.suppressed_by and h.suppressed_by.startswith(why) for h in hits), (text, hits)
    assert not live_hits(rules.scan("he is breathing fine"))
    assert not live_hits(rules.scan("我快急死了"))
