"""What the running service holds: the settings and each model, loaded once at start-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.settings import Settings
from pipeline.bus import EventBus
from pipeline.callbacks import Callbacks, announce
from pipeline.db import Callback, new_id, utcnow
from pipeline.incidents import IncidentBook
from pipeline.instances import Instances, InstanceWatch
from pipeline.model_registry import ModelStatus, configured_models
from pipeline.retention import recordings_dir
from pipeline.session import SessionServices
from pipeline.shared_bus import make_bus
from pipeline.stages import build_session_services, warm_up
from pipeline.store import Store
from pipeline.supervision import build_supervision
from pipeline.workorder_followup import FollowUp

log = logging.getLogger(__name__)

DRAINING = (
    "This instance is shutting down and takes no new calls; please call again. "
    "/ 本服务实例正在停机，不再接听新来电，请重新拨打。"
)
NOT_READY = (
    "The service is not ready: models are still loading or failed to load (see /health). "
    "/ 服务尚未就绪：模型仍在加载或加载失败（见 /health）。"
)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    bus: EventBus = field(default_factory=EventBus)
    model_status: list[ModelStatus] = field(default_factory=list)
    loaded: dict[str, Any] = field(default_factory=dict)
    session_services: SessionServices | None = None
    """What live calls need; None until every stage loaded (then /health says which did not)."""
    calls_error: str | None = None
    incidents: IncidentBook | None = None
    """Storm alerts and incident notices (pipeline/incidents.py)."""
    followup: FollowUp | None = None
    """Work-order due times, overdue urging and status by reference (pipeline/workorder_followup.py)."""
    instance_id: str = field(default_factory=new_id)
    """This process among several on one database (docs/scale-out.md)."""
    instances: Instances | None = None
    """This instance's heartbeat row and the reaping of dead instances (pipeline/instances.py)."""
    instance_watch: InstanceWatch | None = None
    draining: bool = False
    """SIGTERM received: no new calls; live ones continue until they end or drain_timeout_s."""

    @classmethod
    def start(cls, settings: Settings, load_models: bool = True) -> Runtime:
        """Open the records store, then load every configured model (skipped for model-free tests)."""
        started_at = utcnow()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        instance_id = new_id()
        runtime = cls(
            settings,
            Store(settings.resolved_database_url()),
            bus=make_bus(settings.bus_url, instance_id),
            instance_id=instance_id,
        )
        runtime.store.instance_id = instance_id
        runtime.instances = Instances(runtime.store, instance_id, recordings_dir(settings))
        runtime.instances.register()
        runtime.instance_watch = InstanceWatch(
            runtime.instances, runtime.bus, settings.instance_heartbeat_s, settings.instance_dead_after_s
        ).start()
        if not settings.bus_url:
            # One instance: what it left waiting when it last stopped. Several: the waiting
            # handoffs may be live on another instance; a dead one's are reaped (pipeline/instances.py).
            runtime.recover_callbacks(started_at)
        runtime.incidents, runtime.followup = build_supervision(settings, runtime.store, runtime.bus)
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
        try:
            runtime.session_services = build_session_services(
                settings, runtime.loaded, runtime.store, runtime.bus
            )
            runtime.session_services.incidents = runtime.incidents
            runtime.session_services.followup = runtime.followup
            runtime.session_services.utc_offset_min = settings.report_utc_offset_min
            warm_up(runtime.session_services)
        except Exception as e:
            runtime.calls_error = str(e)
            log.error("live calls are disabled: %s", e)
        return runtime

    def recover_callbacks(self, started_at: datetime) -> list[Callback]:
        """Emergency and urgent handoffs a previous process left waiting (it crashed or restarted
        with callers in the queue) become call-back tasks, so none is lost."""
        recovered = Callbacks(self.store).open_left_waiting(started_at)
        for task in recovered:
            log.warning(
                "handoff %s was left waiting by a previous process: call-back task %s opened",
                task.handoff_id,
                task.id,
            )
            announce(self.bus, "callback.created", task)
        return recovered

    def live_call_count(self) -> int:
        live = getattr(self.session_services, "live_calls", None)
        return len(live) if live is not None else 0

    def services_for_new_call(self) -> SessionServices | None:
        """What a new call needs, or None when this instance takes no new calls (models not
        loaded, or SIGTERM is draining it): every transport asks here before it answers."""
        return None if self.draining else self.session_services

    def refusal(self) -> str:
        """Why services_for_new_call() is None, in both languages, for the caller or the peer."""
        if self.draining:
            return DRAINING
        return NOT_READY

    def drain(self) -> None:
        """SIGTERM: take no new calls (health says draining) while the live ones finish."""
        self.draining = True
        if self.instance_watch is not None:
            self.instance_watch.status = "draining"

    def close(self) -> None:
        if self.instance_watch is not None:
            self.instance_watch.stop()
        if self.instances is not None:
            try:
                self.instances.heartbeat("stopped")  # a clean exit: nothing for a survivor to reap
            except Exception:
                log.exception("could not mark instance %s stopped", self.instance_id)
        self.bus.close()
        synth = self.loaded.get("tts")
        if synth is not None:
            synth.close()
