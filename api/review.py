"""The review queue for supervisors: calls the bot probably got wrong (GET /v1/review), one label
each (POST /v1/review/{call_id}: topic, urgency, request type, the right KB entry or none), and
the labels exported as `triage nlu train` rows or KB corrections (GET /v1/review/export).

A label whose answer differs from the bot's is also written to the KB corrections log
(kb/corrections.py, source 'review'), which `triage kb eval` and `triage kb calibrate` read.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.agents import taxonomy_labels
from api.auth import StoreDep, Supervisor
from api.deps import get_runtime
from kb.corrections import Correction, CorrectionError, CorrectionLog
from pipeline.db import utcnow
from pipeline.reports import parse_time
from pipeline.review import (
    REASONS,
    ReviewError,
    item_for_call,
    kb_query_row,
    labels,
    review_queue,
    save_label,
    training_row,
)
from pipeline.runtime import Runtime

router = APIRouter(prefix="/v1/review", tags=["review"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class LabelIn(BaseModel):
    topic: str | None = Field(None, description="The right topic (taxonomy code), or null if none fits.")
    urgency: str | None = Field(None, description="emergency, urgent or routine.")
    request_type: str | None = Field(None, description="The right request type (taxonomy code).")
    kb_entry_id: str | None = Field(
        None, description="The KB entry that answers the question; null: none does."
    )
    question: str | None = Field(None, description="The caller's question, if the transcript's needs fixing.")
    note: str | None = Field(None, max_length=2000)


def _kb_entries(runtime: Runtime) -> list[dict[str, Any]]:
    kb = runtime.loaded.get("kb")
    if kb is None or not hasattr(kb, "entries"):
        return []
    return [
        {"id": e.id, "question": e.questions[0] if e.questions else e.id, "topic": e.topic}
        for e in kb.entries()
    ]


@router.get("", summary="Calls to review: not helpful, rated 1-2, or handed off after low confidence")
def queue(
    store: StoreDep,
    _: Supervisor,
    runtime: RuntimeDep,
    from_: Annotated[
        str | None, Query(alias="from", description="First day (local); default 7 days ago.")
    ] = None,
    to: Annotated[str | None, Query(description="Last day (local, included); default today.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    s = runtime.settings
    offset = s.report_utc_offset_min
    try:
        end = parse_time(to, offset, end=True) if to else utcnow() + timedelta(seconds=1)
        start = parse_time(from_, offset) if from_ else end - timedelta(days=7)
    except ValueError as e:
        raise HTTPException(422, str(e)) from e
    with store.session() as session:
        items = review_queue(session, start, end, s.review_confidence_below, limit)
    return {
        "items": [i.as_dict() for i in items],
        "reasons": {k: {"en": en, "zh": zh} for k, (en, zh) in REASONS.items()},
        "confidence_below": s.review_confidence_below,
    }


@router.get("/options", summary="What a label may say: topics, urgencies, request types, KB entries")
def options(_: Supervisor, runtime: RuntimeDep) -> dict[str, Any]:
    return {"labels": taxonomy_labels().model_dump(), "kb_entries": _kb_entries(runtime)}


@router.post("/{call_id}", status_code=201, summary="Label a call: the right topic, urgency and answer")
def label_call(
    call_id: str, body: LabelIn, store: StoreDep, agent: Supervisor, runtime: RuntimeDep
) -> dict[str, Any]:
    known = taxonomy_labels().model_dump()
    for field_name, section in (
        ("topic", "topics"),
        ("urgency", "urgency"),
        ("request_type", "request_types"),
    ):
        value = getattr(body, field_name)
        if value is not None and known.get(section) and value not in known[section]:
            choices = ", ".join(known[section])
            raise HTTPException(422, f"Unknown {field_name} {value!r}; choose one of: {choices}.")
    entries = {e["id"] for e in _kb_entries(runtime)}
    if body.kb_entry_id is not None and entries and body.kb_entry_id not in entries:
        raise HTTPException(
            422, f"No knowledge-base entry {body.kb_entry_id!r}: pick one from /v1/review/options."
        )
    settings = runtime.settings
    with store.session() as s:
        item = item_for_call(s, call_id, settings.review_confidence_below)
        if item is None:
            raise HTTPException(404, f"No call with id {call_id!r}.")
        try:
            label = save_label(
                s,
                item,
                agent.id,
                body.topic,
                body.urgency,
                body.request_type,
                body.kb_entry_id,
                body.question,
                body.note,
            )
        except ReviewError as e:
            raise HTTPException(422, str(e)) from None
        question, language = label.question, label.language
    correction = None
    if body.kb_entry_id != item.bot_kb_entry_id:
        try:
            correction = CorrectionLog(settings.resolved_kb_index_dir()).add(
                Correction(
                    question,
                    body.kb_entry_id,
                    language or "",
                    item.bot_kb_entry_id,
                    call_id,
                    agent.id,
                    "review",
                )
            )
        except CorrectionError as e:
            raise HTTPException(422, str(e)) from None
    return {
        "call_id": call_id,
        "topic": body.topic,
        "urgency": body.urgency,
        "request_type": body.request_type,
        "kb_entry_id": body.kb_entry_id,
        "question": question,
        "kb_correction": correction is not None,
    }


@router.get(
    "/export",
    summary="Review labels as JSONL: NLU training rows or KB corrections",
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "One JSON object a line."}},
)
def export(
    store: StoreDep,
    _: Supervisor,
    kind: Annotated[Literal["nlu", "kb"], Query(description="nlu or kb.")] = "nlu",
) -> Response:
    with store.session() as s:
        rows = labels(s)
        if kind == "nlu":
            out = [r for r in (training_row(label) for label in rows) if r]
        else:
            out = [kb_query_row(x) for x in rows]
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out)
    return Response(
        body,
        media_type="application/x-ndjson; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="review_{kind}.jsonl"'},
    )
