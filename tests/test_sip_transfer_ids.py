"""The call and handoff ids travel with a transfer to a person's phone (issue 12, docs/telephony.md
"Transfer to a person over the phone system"), checked by SIPp (Debian's sip-tester) reading the
headers the service sends: baresip, the agent's phone in test_sip_baresip.py, cannot show them.

- bridge: SIPp is the agent's phone; the service's INVITE carries X-Triage-Call-Id and
  X-Triage-Handoff-Id, and a User-to-User header (RFC 7433, hex) with the same ids.
- refer: SIPp is the caller's side (the PBX); the service's REFER carries a Refer-To whose URI
  headers hold the ids, and a User-to-User header (RFC 7433, hex) with the same ids.

SIPp's own regular expressions (check_it) fail the scenario when a header is missing; the values
they captured are logged and compared here with the call and handoff in the database. The caller
keys 0 (RFC 4733) to ask for a person; the call stages are the scripted fakes (tests/session_fakes.py).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sip_service import SCENARIOS, SIPP, free_port_udp, require_sipp, sip_service
from sqlalchemy import select

from core.settings import SipTransferRoute
from pipeline.db import Call, Decision, Handoff
from pipeline.runtime import Runtime

require_sipp()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, Any]]:
    with sip_service(tmp_path_factory.mktemp("sip-transfer-ids")) as (rt, app, _):
        yield rt, app.state.sip


def sipp_cmd(scenario: str, tmp: Path, name: str, port: int, *extra: str, timeout_s: int = 40) -> list[str]:
    return [
        SIPP, *extra, "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1", "-p", str(port),
        "-mp", str(free_port_udp()), "-m", "1", "-nostdin", "-timeout", f"{timeout_s}s",
        "-trace_err", "-error_file", str(tmp / f"{name}-errors.log"),
        "-trace_logs", "-log_file", str(tmp / f"{name}-logs.log"),
    ]  # fmt: skip


def failure(name: str, tmp: Path, out: str) -> str:
    errors = tmp / f"{name}-errors.log"
    return out[-3000:] + (errors.read_text(errors="replace")[-3000:] if errors.exists() else "")


def logged(tmp: Path, name: str) -> dict[str, str]:
    """The values a scenario's <log> actions wrote: NAME=value lines."""
    text = (tmp / f"{name}-logs.log").read_text(errors="replace")
    return dict(re.findall(r"^([A-Za-z-]+)=(.*)$", text, flags=re.MULTILINE))


def call_and_handoff(rt: Runtime, number: str, timeout_s: float = 20) -> tuple[Call, Handoff]:
    deadline = time.monotonic() + timeout_s
    while True:
        with rt.store.session() as s:
            call = s.scalars(select(Call).where(Call.caller_number == number)).first()
            if call is not None and call.status != "active":
                handoff = s.scalars(select(Handoff).where(Handoff.call_id == call.id)).first()
                if handoff is not None:
                    return call, handoff
        assert time.monotonic() < deadline, f"no ended call with a handoff from {number}"
        time.sleep(0.2)


def uui(seen: dict[str, str]) -> str:
    return bytes.fromhex(seen.get("User-to-User", "")).decode()


def run_caller(scenario: str, tmp: Path, service_port: int) -> subprocess.CompletedProcess[str]:
    cmd = sipp_cmd(scenario, tmp, "caller", free_port_udp(), f"127.0.0.1:{service_port}")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp)


def actions(rt: Runtime, call_id: str) -> list[str]:
    with rt.store.session() as s:
        return list(s.scalars(select(Decision.action).where(Decision.call_id == call_id)).all())


def test_bridge_invite_to_the_agents_phone_carries_the_ids(service: Any, tmp_path: Path) -> None:
    rt, sip = service
    agent_port = free_port_udp()
    sip.config.transfers[:] = [
        SipTransferRoute(destination=f"sip:agent@127.0.0.1:{agent_port}", mode="bridge")
    ]
    agent = subprocess.Popen(
        sipp_cmd("agent_uas.xml", tmp_path, "agent", agent_port),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        time.sleep(0.5)  # the agent's phone listens before the caller dials
        caller = run_caller("caller_keys_0_until_bye.xml", tmp_path, sip.port)
        agent_out, _ = agent.communicate(timeout=20)
    finally:
        sip.config.transfers[:] = []
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    assert agent.returncode == 0, failure("agent", tmp_path, agent_out)
    assert caller.returncode == 0, failure("caller", tmp_path, caller.stdout + caller.stderr)
    call, handoff = call_and_handoff(rt, "13900177001")
    seen = logged(tmp_path, "agent")
    assert seen.get("X-Triage-Call-Id") == call.id, seen
    assert seen.get("X-Triage-Handoff-Id") == handoff.id, seen
    assert uui(seen) == f"triage;call={call.id};handoff={handoff.id}"
    assert call.end_reason == "agent_hung_up"
    assert "transferred" in actions(rt, call.id)


def test_refer_carries_the_ids_in_refer_to_and_user_to_user(service: Any, tmp_path: Path) -> None:
    rt, sip = service
    destination = "sip:8000@127.0.0.1:5999"
    sip.config.transfers[:] = [SipTransferRoute(destination=destination, mode="refer")]
    try:
        caller = run_caller("caller_keys_0_accepts_refer.xml", tmp_path, sip.port)
    finally:
        sip.config.transfers[:] = []
    assert caller.returncode == 0, failure("caller", tmp_path, caller.stdout + caller.stderr)
    call, handoff = call_and_handoff(rt, "13900177002")
    seen = logged(tmp_path, "caller")
    assert seen.get("Refer-To-Target") == destination, seen
    assert seen.get("X-Triage-Call-Id") == call.id, seen
    assert seen.get("X-Triage-Handoff-Id") == handoff.id, seen
    assert uui(seen) == f"triage;call={call.id};handoff={handoff.id}"
    # SIPp hangs up at once after its 202: the record still says transferred, not caller_hung_up
    assert call.end_reason == "transferred"
    assert "transferred" in actions(rt, call.id)
