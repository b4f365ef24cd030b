"""The event bus shared by several service instances: PostgreSQL LISTEN/NOTIFY (docs/scale-out.md).

Every message published here is delivered at once to this process's subscribers (as the
in-process bus does) and sent with ``pg_notify`` to every other instance listening on the same
database, whose listener thread hands it to their subscribers. A message whose JSON does not fit
a notification (PostgreSQL's 8000-byte payload limit) is written to a small spill table and the
notification carries its row id.

Delivery is at most once, like the in-process bus: an instance whose listener is reconnecting
misses what was sent meanwhile, and its consoles re-read the queue over REST (they do so on every
``queue`` refresh). A database that is away never blocks or fails a call: the message still
reaches this process's subscribers and the failure is logged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from pipeline.bus import BusMessage, EventBus

log = logging.getLogger(__name__)

CHANNEL = "triage_bus"
MAX_PAYLOAD = 7900
"""Bytes; PostgreSQL refuses a notification payload of 8000 bytes or more."""
SPILL_TABLE = "triage_bus_spill"
SPILL_KEEP_S = 120.0


def libpq_url(url: str) -> str:
    """``postgresql+psycopg://...`` (SQLAlchemy's spelling, as in TRIAGE_DATABASE_URL) -> ``postgresql://...``."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith(("postgresql", "postgres")):
        raise ValueError(
            f"TRIAGE_BUS_URL must be a PostgreSQL URL (postgresql://user@host/db), not {url!r}. "
            "/ TRIAGE_BUS_URL 须为 PostgreSQL 地址。"
        )
    return "postgresql://" + rest


class PgBus(EventBus):
    """An EventBus whose messages also reach every other instance on the same PostgreSQL."""

    def __init__(self, url: str, instance_id: str, maxsize: int = 1000, reconnect_s: float = 1.0) -> None:
        import psycopg

        super().__init__(maxsize)
        self.instance_id = instance_id
        self.url = libpq_url(url)
        self.reconnect_s = reconnect_s
        self._psycopg = psycopg
        self._send_lock = threading.Lock()
        self._sender: Any = None
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._last_spill_purge = 0.0
        with psycopg.connect(self.url, autocommit=True) as conn:  # fail at start-up, not on a call
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {SPILL_TABLE} (id BIGSERIAL PRIMARY KEY, "
                "payload TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
        self._thread = threading.Thread(target=self._listen_forever, name="pg-bus-listener", daemon=True)
        self._thread.start()

    def wait_listening(self, timeout_s: float = 10.0) -> bool:
        """True once the listener is subscribed (tests and start-up wait on it)."""
        return self._listening.wait(timeout_s)

    # --- sending -------------------------------------------------------------------------------
    def publish(self, topic: str, **data: Any) -> None:
        super().publish(topic, **data)  # this process's consoles: at once, whatever the database does
        payload = json.dumps(
            {"origin": self.instance_id, "topic": topic, "data": data}, default=str, ensure_ascii=False
        )
        try:
            self._send(payload)
        except Exception as e:
            log.error("bus message %s not sent to the other instances: %s", topic, e)
            with self._send_lock:
                self._close_sender()

    def _send(self, payload: str) -> None:
        with self._send_lock:
            if self._sender is None or self._sender.closed:
                self._sender = self._psycopg.connect(self.url, autocommit=True)
            conn = self._sender
            if len(payload.encode()) > MAX_PAYLOAD:
                row = conn.execute(
                    f"INSERT INTO {SPILL_TABLE} (payload) VALUES (%s) RETURNING id", (payload,)
                ).fetchone()
                payload = json.dumps({"origin": self.instance_id, "spill": row[0]})
                if time.monotonic() - self._last_spill_purge > SPILL_KEEP_S:
                    self._last_spill_purge = time.monotonic()
                    conn.execute(
                        f"DELETE FROM {SPILL_TABLE} WHERE created_at < now() - make_interval(secs => %s)",
                        (SPILL_KEEP_S,),
                    )
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))

    def _close_sender(self) -> None:
        if self._sender is not None:
            try:
                self._sender.close()
            except Exception:
                log.debug("closing the bus sender failed", exc_info=True)
            self._sender = None

    # --- receiving -----------------------------------------------------------------------------
    def _listen_forever(self) -> None:
        while not self._stop.is_set():
            try:
                # Spilled messages are read on a second connection: the listening one is busy
                # inside notifies() while a message is being delivered.
                with (
                    self._psycopg.connect(self.url, autocommit=True) as conn,
                    self._psycopg.connect(self.url, autocommit=True) as reader,
                ):
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._deliver_remote(reader, note.payload)
            except Exception as e:
                self._listening.clear()
                if self._stop.is_set():
                    return
                log.error("bus listener lost PostgreSQL (%s); reconnecting in %.1f s", e, self.reconnect_s)
                self._stop.wait(self.reconnect_s)

    def _deliver_remote(self, conn: Any, payload: str) -> None:
        try:
            body = json.loads(payload)
            if body.get("origin") == self.instance_id:
                return  # already delivered here by publish()
            if "spill" in body:
                row = conn.execute(
                    f"SELECT payload FROM {SPILL_TABLE} WHERE id = %s", (body["spill"],)
                ).fetchone()
                if row is None:
                    return
                body = json.loads(row[0])
            message = BusMessage(str(body["topic"]), dict(body.get("data") or {}), origin=str(body["origin"]))
        except Exception:
            log.exception("a bus message from another instance could not be read; skipped")
            return
        self.deliver(message)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with self._send_lock:
            self._close_sender()


def make_bus(bus_url: str, instance_id: str) -> EventBus:
    """The in-process bus when ``bus_url`` is empty (one instance), else the PostgreSQL one."""
    if not bus_url:
        return EventBus(instance_id=instance_id)
    bus = PgBus(bus_url, instance_id)
    if not bus.wait_listening(10.0):
        log.error("the shared bus is not listening yet; it keeps retrying")
    return bus
