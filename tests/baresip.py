"""baresip (Debian's package) as an independent SIP phone for tests: headless, its microphone a WAV
file (the aufile module), what it hears dumped to a WAV file (the sndfile module: baresip 1.0.0's
aufile cannot play to a file), driven over its ctrl_tcp socket (netstring JSON commands, call
events back)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

BARESIP = shutil.which("baresip") or "/usr/bin/baresip"
MODULES = Path("/usr/lib/baresip/modules")
if not Path(BARESIP).exists():
    pytest.fail("baresip is missing: run scripts/bootstrap.sh (apt-get install -y baresip)")


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Phone:
    """One baresip process. ``user``: the From user part (the caller's number)."""

    def __init__(
        self,
        folder: Path,
        user: str,
        microphone: Path | None,
        codecs: str = "PCMU",
        auto_answer: bool = False,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.recordings = folder / "heard"
        """The sndfile module writes what the phone heard (``*-dec.wav``) and sent (``*-enc.wav``)."""
        self.recordings.mkdir(exist_ok=True)
        self.sip_port = _free_port(socket.SOCK_DGRAM)
        self.ctrl_port = _free_port(socket.SOCK_STREAM)
        source = f"aufile,{microphone}" if microphone else "aufile,/dev/null"
        (folder / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen 127.0.0.1:{self.sip_port}",
                    "sip_transports udp",
                    f"audio_source {source}",
                    f"snd_path {self.recordings}",
                    "audio_alert aufile,/dev/null",
                    "audio_srate 8000",
                    "audio_channels 1",
                    "net_interface 127.0.0.1",
                    f"module_path {MODULES}",
                    "module g711.so",
                    "module aufile.so",
                    "module sndfile.so",
                    "module_app account.so",
                    "module_app menu.so",
                    "module_app ctrl_tcp.so",
                    f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
                    "rtp_ports 30000-39998",
                    "",
                ]
            )
        )
        answer = ";answermode=auto" if auto_answer else ""
        (folder / "accounts").write_text(
            f"<sip:{user}@127.0.0.1:{self.sip_port}>;regint=0;audio_codecs={codecs}{answer}\n"
        )
        self.address = f"sip:{user}@127.0.0.1:{self.sip_port}"
        self.log = open(folder / "baresip.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [BARESIP, "-f", str(folder)], stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        self.events: list[dict[str, Any]] = []
        self._buf = b""
        self._sock = self._connect()

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + 15
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
                s.settimeout(0.2)
                return s
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"baresip did not start: see {self.folder / 'baresip.log'}") from None
                time.sleep(0.1)

    def command(self, command: str, params: str = "") -> None:
        data = json.dumps({"command": command, "params": params, "token": command}).encode()
        self._sock.sendall(str(len(data)).encode() + b":" + data + b",")

    def _read(self) -> None:
        try:
            chunk = self._sock.recv(65536)
        except TimeoutError:
            return
        self._buf += chunk
        while b":" in self._buf:
            size, _, rest = self._buf.partition(b":")
            if not size.isdigit() or len(rest) < int(size) + 1:
                return
            body, self._buf = rest[: int(size)], rest[int(size) + 1 :]
            self.events.append(json.loads(body))

    def wait_event(self, kind: str, timeout_s: float) -> dict[str, Any]:
        """The first event of ``kind`` (CALL_ESTABLISHED, CALL_CLOSED, ...) seen so far or within the time."""
        deadline = time.monotonic() + timeout_s
        while True:
            for event in self.events:
                if event.get("type") == kind:
                    return event
            if time.monotonic() > deadline:
                raise AssertionError(f"baresip saw no {kind} within {timeout_s:.0f} s: {self.events}")
            self._read()

    def heard(self) -> Path:
        """What the phone heard on its last call (8 kHz mono WAV)."""
        dumps = sorted(self.recordings.glob("*-dec.wav"))
        if not dumps:
            raise AssertionError(f"baresip recorded nothing: see {self.folder / 'baresip.log'}")
        return dumps[-1]

    def stop(self) -> None:
        self._sock.close()
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()
