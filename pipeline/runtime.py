"""What the running service holds: the settings and each model, loaded once at start-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from models.registry import ModelStatus, configured_models
from pipeline.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    model_status: list[ModelStatus] = field(default_factory=list)
    loaded: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, settings: Settings) -> Runtime:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        runtime = cls(settings)
        for entry in configured_models(settings):
            status, obj = entry.check()
            runtime.model_status.append(status)
            if status.loaded:
                runtime.loaded[status.role] = obj
                log.info("model %s (%s) loaded in %.2fs", status.role, status.spec, status.load_s)
            else:
                log.error("model %s (%s) failed to load: %s", status.role, status.spec, status.error)
        return runtime
