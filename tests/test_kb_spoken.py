"""A long written answer becomes a spoken one: the first sentences, and the full text by SMS when the
caller asks for it (the log sender by default). Table-driven, and one call over fake stages."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from session_fakes import FakeCall

from kb.spoken import spoken_answer
from pipeline.sms_offer import LogSmsSender, SmsOffer, wants_sms
from pipeline.turns import KnowledgeReply

LONG_ZH = (
    "办理居住证需要在本市居住满半年。请带身份证、居住登记凭证和近期照片到居住地派出所申请。"
    "有合法稳定就业的，还需提供劳动合同或营业执照。就读的学生需提供学校出具的在读证明。"
    "审核通过后十五个工作日内制证，可以邮寄到家，也可以到派出所窗口领取。"
)
LONG_EN = (
    "You can apply for a residence permit after living in the city for six months. "
    "Bring your ID card, your residence registration and a recent photo to the local police station. "
    "If you work here, also bring your labour contract or business licence. "
    "Students need a certificate from their school. "
    "The permit is made within fifteen working days and can be posted to you or collected at the station."
)


@pytest.mark.parametrize("text, lang", [(LONG_ZH, "zh"), (LONG_EN, "en")])
def test_a_long_answer_is_cut_at_a_sentence_end_and_nothing_is_lost(text: str, lang: str) -> None:
    said, rest = spoken_answer(text, lang)
    assert said and rest
    assert said[-1] in "。.!?！？" and len(said) < len(text)
    joiner = "" if lang == "zh" else " "
    assert joiner.join([said, rest]) == text
    assert said.startswith(text[:20])


def test_a_short_answer_is_said_whole() -> None:
    assert spoken_answer("停电请拨打95598。", "zh") == ("停电请拨打95598。", "")
    assert spoken_answer("Call 95598 for power cuts.", "en") == ("Call 95598 for power cuts.", "")


@pytest.mark.parametrize(
    "reply, wanted",
    [("text me please", True), ("yes, send it by SMS", True), ("发短信给我", True), ("发我手机上", True),
     ("no thanks", False), ("不用发短信", False), ("did the water come back", False)],
)  # fmt: skip
def test_what_counts_as_asking_for_the_sms(reply: str, wanted: bool) -> None:
    assert wants_sms(reply) is wanted


def test_the_full_answer_is_sent_only_when_asked_and_only_to_a_known_number() -> None:
    sender = LogSmsSender()
    offer = SmsOffer(sender)
    said, offered = offer.shorten(LONG_ZH, "zh", "13812345678")
    assert offered and said != LONG_ZH
    assert offer.hear("好的，发短信给我", "13812345678")
    assert list(sender.sent) == [("13812345678", LONG_ZH, "zh")]
    # declined, or a new question instead: nothing sent, and the offer lapses
    offer.shorten(LONG_EN, "en", "13812345678")
    assert not offer.hear("no thanks", "13812345678") and offer.pending is None
    assert not offer.hear("text me", "13812345678")  # nothing pending any more
    # no number to send to: the whole answer is spoken and nothing is offered
    assert offer.shorten(LONG_EN, "en", None) == (LONG_EN, False)
    assert len(sender.sent) == 1


class _LongAnswer:
    def lookup(self, text: str, language: str, topic: str | None) -> KnowledgeReply | None:
        return KnowledgeReply("residence-permit", LONG_EN, 0.95)


def test_a_call_hears_the_short_answer_and_gets_the_rest_by_sms_on_asking(tmp_path: Path) -> None:
    async def run() -> tuple[FakeCall, LogSmsSender]:
        call = FakeCall(tmp_path, silence_timeout_s=60, caller_number="13812345678")
        sender = LogSmsSender()
        call.services.knowledge = _LongAnswer()
        call.session.conversation.sms.sender = sender
        await call.session.open()
        await call.session.text("how do I get a residence permit", "en")
        await call.wait_for(lambda m: m["type"] == "bot_text" and "KB_SMS_OFFER" in m["text"])
        await call.session.text("yes, text me please", "en")
        await call.wait_for(lambda m: m["type"] == "bot_text" and m["text"] == "KB_SMS_SENT")
        await call.session.close("caller_hung_up")
        return call, sender

    call, sender = asyncio.run(run())
    answer = next(t for t in call.said() if "KB_SMS_OFFER" in t)
    said, rest = spoken_answer(LONG_EN, "en")
    assert answer.startswith(said) and rest not in answer
    assert list(sender.sent) == [("13812345678", LONG_EN, "en")]
