"""Agents correct the bot's knowledge-base answers: the question and the right entry (or none) are
kept as data for `triage kb eval` / `triage kb calibrate` (kb/corrections.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from api.auth import CurrentAgent, StoreDep, check_may_see_call
from api.deps import get_runtime
from kb.corrections import Correction, CorrectionError, CorrectionLog
from pipeline.runtime import Runtime
from pipeline.store import Store

router = APIRouter(tags=["knowledge base"])


class CorrectionIn(BaseModel):
    entry_id: str | None = Field(None, description="The entry that answers the question; null: none does.")
    question: str | None = Field(None, description="Default: what the caller asked before the bot's answer.")
    language: str | None = None


class CorrectionOut(BaseModel):
    question: str
    entry_id: str | None
    lang: str
    bot_entry_id: str | None
    call_id: str | None
    agent: str | None
    source: str
    at: str


def get_corrections(runtime: Annotated[Runtime, Depends(get_runtime)]) -> CorrectionLog:
    return CorrectionLog(runtime.settings.resolved_kb_index_dir())


CorrectionsDep = Annotated[CorrectionLog, Depends(get_corrections)]


def last_bot_answer(store: Store, call_id: str) -> tuple[str, str, str] | None:
    """(question, language, entry id) of the call's last knowledge-base answer, or None."""
    call = store.get_call(call_id)
    answers = [d for d in call.decisions if d.action == "answer" and d.kb_entry_id]
    if not answers:
        return None
    answer = max(answers, key=lambda d: d.created_at)
    said = [
        u for u in store.transcript(call_id) if u.speaker == "caller" and u.created_at <= answer.created_at
    ]
    if not said:
        return None
    return said[-1].text, said[-1].language or "", str(answer.kb_entry_id)


@router.post("/v1/calls/{call_id}/kb-correction", status_code=201, response_model=CorrectionOut)
def correct_call(
    call_id: str, body: CorrectionIn, agent: CurrentAgent, store: StoreDep, log: CorrectionsDep
) -> Any:
    """Mark the bot's last answer on this call wrong: saved with the caller's question and the right
    entry (or none) before this returns."""
    check_may_see_call(store, agent, call_id)
    found = last_bot_answer(store, call_id)
    if found is None:
        raise HTTPException(404, "The bot gave no knowledge-base answer on this call: nothing to correct.")
    question, language, bot_entry = found
    if body.entry_id == bot_entry:
        raise HTTPException(
            422, f"{bot_entry} is what the bot answered: give the right entry, or null for none."
        )
    try:
        saved = log.add(
            Correction(
                body.question or question,
                body.entry_id,
                body.language or language,
                bot_entry,
                call_id,
                agent.id,
                "marked_wrong",
            )
        )
    except CorrectionError as e:
        raise HTTPException(422, str(e)) from None
    return CorrectionOut(**saved.__dict__)


@router.get("/v1/kb/corrections", response_model=list[CorrectionOut])
def list_corrections(agent: CurrentAgent, log: CorrectionsDep) -> Any:
    """Every correction so far, oldest first."""
    del agent
    return [CorrectionOut(**c.__dict__) for c in log.read()]
