"""What the running service holds: the settings and each model, loaded once at start-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from models.registry import ModelStatus, configured_models
from pipeline.bus import EventBus
from pipeline.settings import Settings
from pipeline.store import Store

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    bus: EventBus = field(default_factory=EventBus)
    model_status: list[ModelStatus] = field(default_factory=list)
    loaded: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, settings: Settings, load_models: bool = True) -> Runtime:
        """Open the records store, then load every configured model (skipped for model-free tests)."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        runtime = cls(settings, Store(settings.resolved_database_url()))
        if not load_models:
            return runtime
        for entry in configured_models(settings):
            status, obj = entry.check()
            runtime.model_status.append(status)
            if status.loaded:
                runtime.loaded[status.role] = obj
                log.info("model %s (%s) loaded in %.2fs", status.role, status.spec, status.load_s)
            else:
                log.error("model %s (%s) failed to load: %s", status.role, status.spec, status.error)
        return runtime
