"""Work orders: made from a handoff or a call without asking the caller again, then worked
through new -> assigned -> in progress -> resolved with notes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import or_, select

from api.agent_models import (
    WorkOrderCreate,
    WorkOrderDraft,
    WorkOrderOut,
    WorkOrderStatus,
    WorkOrderUpdate,
    mask_details,
)
from api.auth import (
    BusDep,
    CurrentAgent,
    StoreDep,
    check_may_see,
    check_may_see_call,
    handoffs_of_calls,
    is_supervisor,
)
from core.redaction import mask_pii, mask_pii_deep
from pipeline.db import Agent, Call, Handoff, Utterance, WorkOrder, WorkOrderNote
from pipeline.routing import TransitionError
from pipeline.store import Store

router = APIRouter(prefix="/v1/workorders", tags=["work orders"])

SUMMARY_CHARS = 600
ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not yours: neither assigned to you nor made by you."},
    404: {"description": "No record with that id."},
}


def transcript_summary(utterances: list[Utterance], limit: int = SUMMARY_CHARS) -> str:
    """The caller's own words, in order, clipped: what the back office needs without the audio."""
    said = " / ".join(
        mask_pii(u.text.strip()) for u in utterances if u.speaker == "caller" and u.text.strip()
    )
    if len(said) > limit:
        said = said[: limit - 1].rstrip() + "…"
    return said.strip()


def draft_from(handoff: Handoff | None, call: Call) -> WorkOrderDraft:
    decisions = list(call.decisions)
    topic = (handoff.topic if handoff else None) or next(
        (d.topic for d in reversed(decisions) if d.topic), None
    )
    request_type = (handoff.request_type if handoff else None) or next(
        (d.request_type for d in reversed(decisions) if d.request_type), None
    )
    urgency = (handoff.urgency if handoff else None) or next(
        (d.urgency for d in reversed(decisions) if d.urgency), "routine"
    )
    return WorkOrderDraft(
        handoff_id=handoff.id if handoff else None,
        call_id=call.id,
        caller_number=call.caller_number,
        topic=topic,
        request_type=request_type,
        urgency=urgency if urgency in ("emergency", "urgent", "routine") else "routine",
        summary=transcript_summary(list(call.utterances)),
        details=dict(handoff.details or {}) if handoff else {},
    )


def _source(
    store: Store, agent: Agent, handoff_id: str | None, call_id: str | None
) -> tuple[Handoff | None, Call]:
    if handoff_id:
        handoff = store.get_handoff(handoff_id)
        check_may_see(agent, handoff)
        return handoff, store.get_call(handoff.call_id)
    if call_id:
        check_may_see_call(store, agent, call_id)
        handoffs = sorted(handoffs_of_calls(store, [call_id]), key=lambda h: h.created_at)
        return (handoffs[-1] if handoffs else None), store.get_call(call_id)
    raise HTTPException(422, "Say which call the order is for: give handoff_id or call_id.")


def _names(store: Store) -> dict[str, str]:
    return {a.id: a.name for a in store.agents()}


def _created_by(store: Store, order_id: str) -> str | None:
    with store.session() as s:
        return s.scalar(
            select(WorkOrderNote.author)
            .where(WorkOrderNote.work_order_id == order_id)
            .order_by(WorkOrderNote.id)
        )


def _check_mine(store: Store, agent: Agent, order: WorkOrder) -> None:
    if is_supervisor(agent) or order.assigned_to == agent.id or _created_by(store, order.id) == agent.id:
        return
    raise HTTPException(403, f"Work order {order.id} is neither assigned to you nor made by you.")


@router.get(
    "/draft",
    summary="The work-order form prefilled from a handoff or a call",
    responses=ERRORS,
)
def draft(
    agent: CurrentAgent,
    store: StoreDep,
    handoff_id: str | None = Query(None),
    call_id: str | None = Query(None),
) -> WorkOrderDraft:
    """Topic, request type, urgency, extracted details and a transcript summary, so the caller
    is not asked again."""
    handoff, call = _source(store, agent, handoff_id, call_id)
    d = draft_from(handoff, call)
    return d.model_copy(update={"details": mask_details(d.details)})


@router.post("", status_code=201, summary="Create a work order from a handoff or call", responses=ERRORS)
def create(body: WorkOrderCreate, agent: CurrentAgent, store: StoreDep, bus: BusDep) -> WorkOrderOut:
    """Every field left out is filled from the handoff and its call (see /v1/workorders/draft).
    The record keeps ID, card and phone numbers masked (summary, note and details): a work order
    travels to back offices that must not hold them (docs/security.md)."""
    handoff, call = _source(store, agent, body.handoff_id, body.call_id)
    d = draft_from(handoff, call)
    summary = mask_pii((body.summary or "").strip() or d.summary)
    if not summary:
        raise HTTPException(422, "The call has no transcript to summarise: write a summary.")
    fields: dict[str, Any] = {
        "call_id": call.id,
        "topic": body.topic or d.topic,
        "request_type": body.request_type or d.request_type,
        "urgency": body.urgency or d.urgency,
        "details": mask_pii_deep(mask_details(body.details if body.details is not None else d.details)),
    }
    if body.assign_to_me:
        fields.update(status="assigned", assigned_to=agent.id)
    order = store.create_work_order(summary, agent.id, **fields)
    if body.note.strip():
        order = store.update_work_order(order.id, agent.id, note=mask_pii(body.note.strip()))
    bus.publish(
        "workorder.created", work_order_id=order.id, call_id=call.id, caller_number=call.caller_number
    )
    return WorkOrderOut.from_row(order, _names(store))


@router.get("", summary="List work orders", responses={403: ERRORS[403]})
def list_orders(
    agent: CurrentAgent,
    store: StoreDep,
    status: WorkOrderStatus | None = Query(None),
    caller_number: str | None = Query(None),
    limit: int = Query(50, ge=1, le=500),
) -> list[WorkOrderOut]:
    """An agent lists orders assigned to them or made by them; a supervisor lists all. Newest first."""
    with store.session() as s:
        q = select(WorkOrder)
        if not is_supervisor(agent):
            made = select(WorkOrderNote.work_order_id).where(
                WorkOrderNote.author == agent.id, WorkOrderNote.status_from.is_(None)
            )
            q = q.where(or_(WorkOrder.assigned_to == agent.id, WorkOrder.id.in_(made)))
        if status:
            q = q.where(WorkOrder.status == status)
        if caller_number:
            q = q.where(WorkOrder.caller_number == caller_number)
        orders = list(s.scalars(q.order_by(WorkOrder.created_at.desc()).limit(limit)))
        for o in orders:
            _ = o.notes
    names = _names(store)
    return [WorkOrderOut.from_row(o, names) for o in orders]


@router.get("/{order_id}", summary="One work order with its notes", responses=ERRORS)
def get_order(order_id: str, agent: CurrentAgent, store: StoreDep) -> WorkOrderOut:
    order = store.get_work_order(order_id)
    _check_mine(store, agent, order)
    return WorkOrderOut.from_row(order, _names(store))


@router.patch(
    "/{order_id}",
    summary="Move a work order on, reassign it or add a note",
    responses={**ERRORS, 409: {"description": "The workflow does not allow that status change."}},
)
def update_order(
    order_id: str, body: WorkOrderUpdate, agent: CurrentAgent, store: StoreDep, bus: BusDep
) -> WorkOrderOut:
    order = store.get_work_order(order_id)
    _check_mine(store, agent, order)
    if body.assigned_to is not None:
        store.get_agent(body.assigned_to)  # 404 for an unknown agent
    if body.status is None and body.assigned_to is None and not body.note.strip():
        raise HTTPException(422, "Nothing to change: give a status, assigned_to or a note.")
    try:
        order = store.update_work_order(
            order_id,
            agent.id,
            status=body.status,
            note=mask_pii(body.note.strip()),
            assigned_to=body.assigned_to,
        )
    except TransitionError as e:
        raise HTTPException(409, str(e)) from e
    bus.publish("workorder.updated", work_order_id=order.id, status=order.status)
    return WorkOrderOut.from_row(order, _names(store))
