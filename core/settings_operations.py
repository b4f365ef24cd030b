"""Settings of the service's operations: SIP telephony, supervisors' reports and storms, several
instances. A base of ``core.settings.Settings`` (same ``TRIAGE_`` variables); kept apart so each
module holds one group of concerns."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings


class SipTransferRoute(BaseModel):
    """One way to hand a SIP caller to a person on the phone system (docs/telephony.md)."""

    destination: str = Field(pattern=r"^sips?:", description="SIP URI of the agent extension or ACD queue.")
    mode: Literal["refer", "bridge"] = Field(
        "bridge",
        description="refer: blind transfer, the PBX connects the caller and the service leaves the call; "
        "bridge: the service calls the destination and joins it to the call (transcript, recording go on).",
    )
    urgency: Literal["emergency", "urgent", "routine"] | None = Field(None, description="None: any urgency.")
    skill: str | None = Field(None, description="The handoff's topic this route serves; None: any.")
    agent_id: str | None = Field(
        None, description="The console agent who answers at this destination: the handoff is shown as theirs."
    )


class OperationsSettings(BaseSettings):
    # --- phone calls over SIP (transport/sip, docs/telephony.md) ------------------------------------
    sip_enabled: bool = Field(
        False,
        description="Answer SIP calls from a PBX, SIP trunk or SBC (UDP and TCP) on sip_listen:sip_port.",
    )
    sip_listen: str = Field("0.0.0.0", description="Address the SIP and RTP sockets bind to.")
    sip_port: int = Field(5060, ge=0, le=65535, description="SIP port (UDP and TCP); 0 picks a free one.")
    sip_advertised_address: str = Field(
        "",
        description="Address put in Contact, Via and SDP for the PBX to reach us (behind NAT: the public "
        "or PBX-facing address); empty uses sip_listen, or 127.0.0.1 when that is 0.0.0.0.",
    )
    sip_rtp_port_min: int = Field(
        10000, ge=0, le=65535, description="Lowest RTP port (even); 0 takes any free port for each call."
    )
    sip_rtp_port_max: int = Field(20000, ge=0, le=65535, description="Highest RTP port.")
    sip_allowed_peers: list[str] = Field(
        default_factory=list,
        description='Addresses or networks (CIDR) allowed to send SIP, e.g. ["10.0.0.5", "10.1.0.0/16"] '
        "(the PBX, trunk or SBC); others get 403. Empty: anyone who reaches the port (firewall it).",
    )
    sip_transfers: list[SipTransferRoute] = Field(
        default_factory=list,
        description="Where a SIP caller handed to a person goes over the phone system, as JSON: the first "
        'route matching the handoff\'s urgency and skill wins, e.g. [{"urgency": "emergency", '
        '"destination": "sip:119@pbx", "mode": "bridge", "agent_id": "..."}, {"destination": '
        '"sip:8000@pbx", "mode": "refer"}]. None matching: the caller waits for the console as usual.',
    )

    # --- supervisor reports and wallboard (pipeline/reports.py, docs/supervisors.md) ----------------
    service_level_s: float = Field(
        20.0,
        gt=0,
        description="Service level threshold: a handoff counts as answered in time if a person "
        "accepts it within this many seconds of the caller being handed off.",
    )
    service_level_target: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Share of handoffs to answer within service_level_s (the wallboard "
        "shows service level red below it).",
    )
    report_utc_offset_min: int = Field(
        0,
        ge=-720,
        le=840,
        description="Local time for report hours and days, in minutes from UTC "
        "(480 for China Standard Time).",
    )
    workorder_due_h: float = Field(
        72.0, gt=0, description="A work order still open this many hours after it was opened is overdue."
    )
    review_confidence_below: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Review queue: a call handed to a person after a decision less confident than this is "
        "queued for a supervisor to label (docs/supervisors.md).",
    )

    # --- incident storms and notices, work-order follow-up (docs/supervisors.md) -------------------
    storm_window_s: int = Field(
        900,
        gt=0,
        description="Incident storms: calls about one topic from one district counted over this window.",
    )
    storm_min_calls: int = Field(5, ge=1, description="Never a storm below this many calls in the window.")
    storm_alpha: float = Field(
        1e-3,
        gt=0,
        lt=1,
        description="A burst is a storm when its Poisson tail probability under the topic's normal rate for "
        "the hour is at most this (pipeline/storms.py).",
    )
    storm_floor_per_hour: float = Field(
        2.0,
        gt=0,
        description="Least normal rate (calls an hour) assumed for a topic: a new line has no history.",
    )
    storm_baseline_days: int = Field(
        28, ge=1, description="Days of recorded calls behind a topic's normal rate."
    )
    storm_cooldown_s: int = Field(
        7200, ge=0, description="After a storm alert for a topic and district, no second one for this long."
    )
    incident_service_tokens: list[str] = Field(
        default_factory=list,
        description="Bearer tokens (JSON list) with which an outage system may publish and end incident "
        "notices over /v1/incidents without an agent account; empty: supervisors only.",
    )
    workorder_due_rules: dict[str, float] = Field(
        default_factory=lambda: {"emergency": 4.0, "urgent": 24.0},
        description="Hours to resolve a work order by '<request_type>:<urgency>', '<request_type>' or "
        "'<urgency>' (most specific wins; JSON), else workorder_due_h. Overdue orders are urged (催办).",
    )
    followup_sweep_s: float = Field(
        60.0, gt=0, description="How often overdue work orders are looked for and urged."
    )

    # --- several instances (docs/scale-out.md) --------------------------------------------------
    bus_url: str = Field(
        "",
        description="Live events shared by every instance: a PostgreSQL URL (LISTEN/NOTIFY, "
        "pipeline/shared_bus.py), usually the same database as database_url. "
        "Empty: the in-process bus (one instance).",
    )
    instance_heartbeat_s: float = Field(
        2.0, gt=0, description="How often each instance writes its last_seen in the instances table."
    )
    instance_dead_after_s: float = Field(
        10.0,
        gt=0,
        description="An instance silent this long is dead: a survivor closes its calls as dropped, "
        "opens call-backs for its waiting emergencies and repairs its recordings.",
    )
    drain_timeout_s: float = Field(
        600.0,
        ge=0,
        description="On SIGTERM, live calls may continue this long (no new calls are taken) "
        "before the process exits.",
    )
    partial_save_s: float = Field(
        1.0,
        ge=0,
        description="The latest partial transcript of a call is saved at most this often (crash recovery).",
    )
