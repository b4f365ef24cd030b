"""The supervisors' live helpers one service holds: incident storms and notices, work-order
follow-up; built from the settings once, shared by the calls and the REST API."""

from __future__ import annotations

from core.settings import Settings
from pipeline.bus import EventBus
from pipeline.incidents import IncidentBook
from pipeline.store import Store
from pipeline.storms import StormConfig
from pipeline.workorder_followup import DueRules, FollowUp


def storm_config(settings: Settings) -> StormConfig:
    return StormConfig(
        window_s=settings.storm_window_s,
        min_calls=settings.storm_min_calls,
        alpha=settings.storm_alpha,
        floor_per_hour=settings.storm_floor_per_hour,
        baseline_days=settings.storm_baseline_days,
        utc_offset_min=settings.report_utc_offset_min,
        cooldown_s=settings.storm_cooldown_s,
    )


def build_supervision(settings: Settings, store: Store, bus: EventBus) -> tuple[IncidentBook, FollowUp]:
    rules = DueRules(settings.workorder_due_h, dict(settings.workorder_due_rules))
    return IncidentBook(store, bus, storm_config(settings)), FollowUp(store, bus, rules)
