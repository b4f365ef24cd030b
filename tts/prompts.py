"""The fixed things the bot says, in Mandarin and English.

Written to be spoken: short sentences; numbers are left as digits, for tts/normalise_*.py reads
them as a hotline agent would ("12345" as 幺二三四五, a phone number in groups of digits). The call
pipeline asks for them by key through ``Synthesizer.prompt``, which caches the audio.
"""

from __future__ import annotations

import string
from typing import Final

from tts.interface import Lang

PROMPTS: Final[dict[str, dict[Lang, str]]] = {
    "greeting": {
        "zh": "您好，这里是12345市民服务热线，随时按0转人工。请问有什么可以帮您？",
        "en": "Hello, this is the 12345 city service hotline. Press 0 at any time for a person. "
        "How can I help you?",
    },
    "greeting_no_keypad": {
        # Callers with no keypad (the web caller page, uploaded recordings).
        "zh": "您好，这里是12345市民服务热线。请问有什么可以帮您？",
        "en": "Hello, this is the 12345 city service hotline. How can I help you?",
    },
    "keypad_help": {
        "zh": "如需人工服务请按0，重听请按星号键。",
        "en": "To talk to a person, press 0. To hear that again, press star.",
    },
    "kb_narrow": {
        # The knowledge base hesitates between two entries that differ by one detail.
        "zh": "请问您问的是{a}，还是{b}？",
        "en": "Just to be sure: is this about {a}, or {b}?",
    },
    "kb_sms_offer": {
        # After the first sentences of a long answer, to a caller whose number we have.
        "zh": "以上是简要内容，需要完整内容请说“发短信”。",
        "en": "That is the short version; say 'text me' for the full answer by SMS.",
    },
    "kb_sms_sent": {
        "zh": "好的，完整内容已用短信发到您的手机。还有什么可以帮您？",
        "en": "Done: the full answer is on its way to your phone by SMS. Anything else?",
    },
    "did_that_help": {
        "zh": "请问这个回答对您有帮助吗？",
        "en": "Did that answer help you?",
    },
    "connecting_agent": {
        "zh": "正在为您转接人工客服，请稍候。",
        "en": "I am connecting you to an agent now. Please stay on the line.",
    },
    "kb_lacks": {  # the knowledge base's entry does not give the figure asked for (a fee, an age)
        "zh": "这个具体数字我这里查不到，正在为您转接人工客服，请稍候。",
        "en": "I don't have that figure here, so I am connecting you to an agent who can help. "
        "Please stay on the line.",
    },
    "queue_position": {
        "zh": "您现在排在第{n}位，请不要挂机。",
        "en": "You are number {n} in the queue. Please stay on the line.",
    },
    "no_agent_callback": {
        # Not "No agent is available": a clipped "No" over a phone line says the opposite.
        "zh": "抱歉，现在所有客服都在忙。我们已经记下您的信息，稍后会给您回电。",
        "en": "Sorry, all our agents are busy right now. We have kept your details and will call you back.",
    },
    "lines_busy": {
        "zh": "您好，这里是12345市民服务热线。现在来电较多，我马上为您转接人工，请不要挂机。"
        "如有紧急情况，请直接说出来。",
        "en": "Hello, this is the 12345 city service hotline. All our lines are busy, so I am putting you "
        "through to a person. If it is an emergency, say so now.",
    },
    "not_understood": {
        "zh": "对不起，我没有听清楚，请您再说一遍好吗？",
        "en": "Sorry, I didn't catch that. Could you say it again?",
    },
    "clarify": {
        "zh": "请您再多说一点。比如，发生了什么事，在什么地方？",
        "en": "Could you tell me a little more? For example, what happened, and where?",
    },
    "clarify_topic": {
        "zh": "请问您是想咨询{topic}方面的问题吗？请说是或者不是。",
        "en": "Is your question about {topic}? Please say yes or no.",
    },
    "still_there": {
        "zh": "请问您还在吗？",
        "en": "Are you still there?",
    },
    "goodbye": {
        "zh": "感谢您的来电，再见。",
        "en": "Thank you for calling. Goodbye.",
    },
    "rate_call": {
        "zh": "请为本次通话打分，从1到5分，5分表示非常满意。",
        "en": "Please rate this call from 1 to 5, where 5 means very satisfied.",
    },
    "emergency": {
        "zh": "我现在为您转接紧急救援接线员，请不要挂机。",
        "en": "I am connecting you to an emergency operator now. Stay on the line.",
    },
    "work_order_created": {
        "zh": "我已经为您登记了工单，编号是{reference}。相关部门会尽快联系您。",
        "en": "I have recorded your report as a work order. The reference number is {reference}. "
        "The team responsible will contact you.",
    },
    "incident_notice": {
        # A live incident notice (pipeline/incidents.py), heard before any answer by callers about it.
        "zh": "我们已经知道{where}{what}的情况，预计{fix_by}前修复。如果您仍需要人工服务，请说“转人工”。",
        "en": "We know about the {what} in {where}; repair expected by {fix_by}. "
        "If you still need a person, just say so.",
    },
    "incident_notice_no_eta": {
        "zh": "我们已经知道{where}{what}的情况，正在抢修。如果您仍需要人工服务，请说“转人工”。",
        "en": "We know about the {what} in {where}, and a repair team is on it. "
        "If you still need a person, just say so.",
    },
    "workorder_ask_reference": {
        # The caller asked for the status of a work order without giving its number.
        "zh": "请说出或用按键输入您的六位工单编号，按井号键结束。",
        "en": "Please say your six-digit work order reference, or key it and press hash.",
    },
    "workorder_status": {
        "zh": "工单{reference}目前{status}。{due}",
        "en": "Work order {reference} is {status}. {due}",
    },
    "workorder_not_found": {
        "zh": "抱歉，没有找到编号为{reference}的工单。请核对编号，或者说“转人工”。",
        "en": "Sorry, I found no work order with the reference {reference}. "
        "Please check the number, or ask for a person.",
    },
    "anything_else": {
        "zh": "请问还有什么可以帮您的吗？",
        "en": "Is there anything else I can help you with?",
    },
    "agent_connected": {
        "zh": "您好，人工客服已经接通，请讲。",
        "en": "You are now connected to an agent. Please go ahead.",
    },
    "on_hold": {
        "zh": "客服正在为您查询，请稍候，不要挂机。",
        "en": "Your agent has put you on hold for a moment. Please stay on the line.",
    },
    "transferring": {
        "zh": "正在为您转接其他客服，请稍候。",
        "en": "I am transferring you to another agent. Please stay on the line.",
    },
    "agent_lost": {
        "zh": "抱歉，与客服的连接中断了。我们正在为您接通下一位客服，请不要挂机。",
        "en": "Sorry, we lost the connection to your agent. The next agent will be with you shortly. "
        "Please stay on the line.",
    },
    "waiting_update": {
        "zh": "您现在排在第{n}位，预计还要等大约{minutes}分钟。如果不想等，可以说“给我回电话”。",
        "en": "You are number {n} in the queue. The wait is about {minutes} minutes. "
        "If you would rather not wait, say call me back.",
    },
    "waiting_update_soon": {
        "zh": "您现在排在第{n}位，预计还要等大约1分钟。如果不想等，可以说“给我回电话”。",
        "en": "You are number {n} in the queue. The wait is about 1 minute. "
        "If you would rather not wait, say call me back.",
    },
    "waiting_moved_up": {
        "zh": "我们已经为您优先排队，您现在排在第{n}位，请不要挂机。",
        "en": "We have moved you up the queue. You are now number {n}. Please stay on the line.",
    },
    "waiting_keep": {
        "zh": "好的，请您继续稍候，客服一有空就为您接通。",
        "en": "All right. Please stay on the line, and the next free agent will take your call.",
    },
    "callback_confirmed": {
        "zh": "好的，您不用再等了。我们会尽快给您回电，号码是{number}。感谢您的来电，再见。",
        "en": "All right, you do not need to wait. We will call you back at {number} as soon as we can. "
        "Thank you for calling. Goodbye.",
    },
    "callback_confirmed_no_number": {
        # The line gave no caller id and the caller said no number: the agent reads the transcript.
        "zh": "好的，您不用再等了。我们已经记下您的请求，客服会尽快联系您。感谢您的来电，再见。",
        "en": "All right, you do not need to wait. We have recorded your request, and an agent will "
        "contact you as soon as we can. Thank you for calling. Goodbye.",
    },
    "callback_ask_number": {
        "zh": "好的。请问我们打哪个号码给您回电？请说出号码，或者在键盘上输入，以井号键结束。",
        "en": "All right. Which number should we call you back on? "
        "Say it, or key it in followed by the hash key.",
    },
    "callback_ask_number_no_keypad": {
        "zh": "好的。请问我们打哪个号码给您回电？请说出号码。",
        "en": "All right. Which number should we call you back on? Please say it.",
    },
    "confirm_phone": {
        # The number as the caller gave it: the normaliser reads it back digit by digit, in groups.
        "zh": "您的电话号码是{number}，对吗？",
        "en": "Your phone number is {number}. Is that right?",
    },
}


class UnknownPromptError(KeyError):
    """A prompt key that is not in PROMPTS."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def prompt_fields(key: str) -> set[str]:
    """The placeholders a prompt takes, e.g. {'n'} for 'queue_position' (same in both languages)."""
    texts = _texts(key)
    return {name for text in texts.values() for _, name, _, _ in string.Formatter().parse(text) if name}


def render_prompt(key: str, lang: Lang, **values: object) -> str:
    """The prompt's text in ``lang`` with its placeholders filled."""
    text = _texts(key)[lang]
    missing = prompt_fields(key) - values.keys()
    if missing:
        raise ValueError(f"prompt {key!r} needs {', '.join(sorted(missing))}: pass them as keywords")
    return text.format(**values)


def _texts(key: str) -> dict[Lang, str]:
    try:
        return PROMPTS[key]
    except KeyError:
        raise UnknownPromptError(f"no prompt {key!r}; known prompts: {', '.join(PROMPTS)}") from None
