"""One service instance with scripted stages, as a process of its own, for the crash and drain
tests (tests/test_instance_recovery.py): ``python tests/scale_instance.py DB_URL DATA_DIR PORT``.
It serves with api/drain.py's server, so SIGTERM drains as `triage serve` does."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from scale_fakes import scripted_services

from api.drain import serve_draining
from core.settings import Settings
from pipeline.retention import recordings_dir
from pipeline.runtime import Runtime


def main(db_url: str, data_dir: str, port: int) -> None:
    import serve

    logging.basicConfig(level=logging.INFO)
    settings = Settings(
        data_dir=Path(data_dir),
        database_url=db_url,
        bus_url=db_url if db_url.startswith("postgresql") else "",
        instance_heartbeat_s=0.5,
        instance_dead_after_s=3.0,
        drain_timeout_s=30.0,
    )
    runtime = Runtime.start(settings, load_models=False)
    runtime.session_services = scripted_services(runtime.store, runtime.bus, recordings_dir(settings))
    print(f"instance {runtime.instance_id} on port {port}", flush=True)
    try:
        serve_draining(serve.create_app(runtime), "127.0.0.1", port, settings.drain_timeout_s, "warning")
    finally:
        runtime.close()  # marks this instance stopped: nothing for a survivor to reap


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
