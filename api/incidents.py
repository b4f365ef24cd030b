"""Incident storms and notices over REST.

Storm alerts (bursts of calls about one topic from one district, pipeline/storms.py) are for
supervisors: list, draft a notice from one, publish it in one call, or dismiss it. Notices are
published and ended by a supervisor, or by a utility's outage system with a service token
(``TRIAGE_INCIDENT_SERVICE_TOKENS``); every agent may list them.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from api.auth import CurrentAgent, StoreDep, Supervisor, authenticate, bearer, is_supervisor, unauthorized
from api.deps import get_runtime
from pipeline.incidents import IncidentBook, incident_view, storm_view
from pipeline.runtime import Runtime

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])
ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Neither a supervisor nor the outage system's service token."},
    404: {"description": "No record with that id."},
}


def get_book(runtime: Annotated[Runtime, Depends(get_runtime)]) -> IncidentBook:
    if runtime.incidents is None:
        raise HTTPException(503, "Incident notices are not running in this service.")
    return runtime.incidents


BookDep = Annotated[IncidentBook, Depends(get_book)]


def publisher(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    store: StoreDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """Who publishes: 'service' for an outage system's token, else a supervisor's agent id."""
    if creds is None:
        raise unauthorized(
            "Send 'Authorization: Bearer <token>': a supervisor's or the outage system's token."
        )
    token = creds.credentials
    if any(hmac.compare_digest(token, t) for t in runtime.settings.incident_service_tokens):
        return "service"
    agent = authenticate(store, token)
    if agent is None:
        raise unauthorized("This token belongs to no agent and is not an incident service token.")
    if not is_supervisor(agent):
        raise HTTPException(
            403, f"Only a supervisor publishes incident notices; {agent.name} is an {agent.role}."
        )
    return agent.id


Publisher = Annotated[str, Depends(publisher)]


class NoticeIn(BaseModel):
    topic: str = Field(
        min_length=1, max_length=48, description="Topic code, as the classifier names it: water."
    )
    district: str = Field(min_length=1, max_length=64, description="The place as callers name it: 朝阳区.")
    what_zh: str = Field(min_length=1, max_length=200, description="What happened, in Mandarin: 停水.")
    what_en: str = Field(min_length=1, max_length=200, description="What happened, in English: water cut.")
    where_zh: str = Field("", max_length=64, description="The place as the bot says it in Mandarin.")
    where_en: str = Field("", max_length=64, description="The place as the bot says it in English.")
    fix_by: datetime | None = Field(None, description="Expected repair time (ISO 8601 with zone).")


class PublishStorm(BaseModel):
    """Overrides of the prefilled notice; every field left out keeps the draft's value."""

    what_zh: str | None = Field(None, max_length=200)
    what_en: str | None = Field(None, max_length=200)
    where_zh: str | None = Field(None, max_length=64)
    where_en: str | None = Field(None, max_length=64)
    fix_by: datetime | None = None


@router.get("", summary="Incident notices, live ones by default")
def list_incidents(
    _agent: CurrentAgent, book: BookDep, status: str = Query("live", pattern="^(live|all)$")
) -> list[dict[str, Any]]:
    return [incident_view(i, book.calls_of(i.id)) for i in book.incidents(live_only=status == "live")]


@router.post("", status_code=201, summary="Publish an incident notice", responses=ERRORS)
def publish(body: NoticeIn, who: Publisher, book: BookDep) -> dict[str, Any]:
    """Callers about ``topic`` who name ``district`` hear it before any answer while it is live."""
    try:
        incident = book.publish(
            body.topic,
            body.district,
            body.what_zh,
            body.what_en,
            body.where_zh,
            body.where_en,
            body.fix_by,
            source="service" if who == "service" else "supervisor",
            created_by=who,
        )
    except ValueError as e:
        raise HTTPException(422, str(e)) from e
    return incident_view(incident, 0)


@router.post("/{incident_id}/end", summary="End a notice: callers no longer hear it", responses=ERRORS)
def end(incident_id: str, _who: Publisher, book: BookDep) -> dict[str, Any]:
    incident = book.end(incident_id)
    return incident_view(incident, book.calls_of(incident.id))


@router.get("/storms", summary="Storm alerts (bursts of calls about one topic in one district)")
def storms(
    _sup: Supervisor, book: BookDep, status: str = Query("open", pattern="^(open|published|dismissed|all)$")
) -> list[dict[str, Any]]:
    return [storm_view(a) for a in book.storms(None if status == "all" else status)]


@router.get("/storms/{storm_id}/draft", summary="The notice prefilled from a storm alert", responses=ERRORS)
def draft(storm_id: str, _sup: Supervisor, book: BookDep) -> dict[str, Any]:
    d = book.draft(storm_id)
    return {**d.__dict__, "fix_by": d.fix_by.isoformat()}


@router.post(
    "/storms/{storm_id}/publish",
    status_code=201,
    summary="Publish the storm's notice in one click",
    responses=ERRORS,
)
def publish_storm(
    storm_id: str, sup: Supervisor, book: BookDep, body: PublishStorm | None = None
) -> dict[str, Any]:
    d = book.draft(storm_id)
    if book.get_storm(storm_id).status == "published":
        raise HTTPException(409, f"Storm {storm_id} already has a notice.")
    b = body or PublishStorm()
    incident = book.publish(
        d.topic,
        d.district,
        b.what_zh or d.what_zh,
        b.what_en or d.what_en,
        b.where_zh or d.where_zh,
        b.where_en or d.where_en,
        b.fix_by or d.fix_by,
        created_by=sup.id,
        storm_id=storm_id,
    )
    return incident_view(incident, 0)


@router.post("/storms/{storm_id}/dismiss", summary="Dismiss a storm alert (no notice)", responses=ERRORS)
def dismiss(storm_id: str, _sup: Supervisor, book: BookDep) -> dict[str, Any]:
    return storm_view(book.dismiss(storm_id))
