"""Request and response bodies of the agents' softphone (api/softphone.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator


class SdpOffer(BaseModel):
    sdp: str = Field(
        description="The browser's complete offer (pc.localDescription.sdp after ICE gathering)."
    )
    type: Literal["offer"] = "offer"


class SdpAnswer(BaseModel):
    sdp: str
    type: str = "answer"


class MuteIn(BaseModel):
    muted: bool = Field(description="true: the caller no longer hears you, and nothing is recorded.")


class HoldIn(BaseModel):
    on: bool = Field(description="true: the caller hears the hold message; neither side hears the other.")


class TransferIn(BaseModel):
    """Exactly one of to_agent_id and topic."""

    to_agent_id: str | None = Field(None, description="Transfer to this agent only.")
    topic: str | None = Field(None, max_length=48, description="Transfer to agents with this topic skill.")
    note: str = Field("", max_length=4000, description="For the next agent: what was said and done.")

    @model_validator(mode="after")
    def _one_target(self) -> TransferIn:
        if (self.to_agent_id is None) == (self.topic is None):
            raise ValueError("give exactly one of to_agent_id (an agent) and topic (a skill)")
        return self


class PhoneState(BaseModel):
    handoff_id: str
    call_id: str
    state: Literal["connected", "on_hold", "muted", "ended"]
    muted: bool = False
    on_hold: bool = False
