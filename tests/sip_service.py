"""A model-free service answering SIP on free ports (its calls use the scripted fakes), for the
tests that drive it with SIPp; and where SIPp is."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from session_fakes import fake_services

from api.server_thread import running_server
from core.settings import Settings
from pipeline.runtime import Runtime

SIPP = shutil.which("sipp") or "/usr/bin/sipp"
SCENARIOS = Path(__file__).parent / "data" / "sip"


def require_sipp() -> None:
    if not Path(SIPP).exists():
        pytest.fail("SIPp is missing: run scripts/bootstrap.sh (apt-get install -y sip-tester)")


def free_port_udp() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def sip_service(tmp: Path, **settings_: Any) -> Iterator[tuple[Runtime, FastAPI, str]]:
    """(runtime, app, base URL) of a running service; ``app.state.sip`` is its SIP endpoint;
    ``settings_``: other settings (e.g. ``audiosocket_port=0`` for an AudioSocket server too)."""
    import serve

    settings = Settings(
        data_dir=tmp,
        sip_enabled=True,
        sip_listen="127.0.0.1",
        sip_port=0,
        sip_rtp_port_min=0,
        sip_rtp_port_max=0,
        silence_timeout_s=60,
        **settings_,
    )
    rt = Runtime.start(settings, load_models=False)
    rt.session_services = fake_services(rt.store, rt.bus, tmp / "recordings", silence_timeout_s=60)
    app = serve.create_app(rt)
    try:
        with running_server(app) as url:
            yield rt, app, url
    finally:
        rt.close()
