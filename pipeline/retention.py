"""The recordings file store beside the database: where call audio lives, how a stored path
resolves, and the retention purge (`triage recordings purge`).

Recordings sit under ``<data_dir>/recordings/<YYYY-MM-DD>/<call id>/{caller,bot,agent}.wav`` (see
pipeline/recording.py). A purge deletes the files of calls that started before the cut-off and
clears the call's audio paths, so the record says the audio is gone rather than pointing nowhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, select

from core.settings import Settings
from pipeline.db import Call
from pipeline.store import Store

AUDIO_COLUMNS = (Call.caller_audio_path, Call.bot_audio_path, Call.agent_audio_path)
"""Every recording a call points to: the caller's, the bot's and the agents' channel."""


def recordings_dir(settings: Settings) -> Path:
    return settings.data_dir / "recordings"


def resolve_recording(settings: Settings, stored: str) -> Path:
    """A path as the call record holds it: absolute, or relative to the recordings folder."""
    path = Path(stored)
    return path if path.is_absolute() else recordings_dir(settings) / path


@dataclass
class PurgeReport:
    cutoff: datetime
    calls: int = 0
    """Calls whose recordings were removed."""
    files: int = 0
    bytes: int = 0
    orphans: int = 0
    """Files under the recordings folder that no call points to, older than the cut-off."""
    missing: list[str] = field(default_factory=list)
    """Paths a call pointed to that were already gone."""


def purge_recordings(
    store: Store,
    settings: Settings,
    older_than_days: int | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> PurgeReport:
    """Deletes recordings of calls started more than ``older_than_days`` ago (default: the
    ``recordings_retention_days`` setting; 0 keeps everything) and old files no call points to.
    Calls still in progress are never touched."""
    days = settings.recordings_retention_days if older_than_days is None else older_than_days
    now = now or datetime.now(UTC)
    report = PurgeReport(cutoff=now - timedelta(days=days))
    if days <= 0:
        return report
    with store.session() as s:
        calls = list(
            s.scalars(
                select(Call).where(
                    Call.started_at < report.cutoff,
                    Call.status != "active",
                    or_(*(column.is_not(None) for column in AUDIO_COLUMNS)),
                )
            )
        )
        referenced: set[Path] = set()
        for column in AUDIO_COLUMNS:
            for stored in s.scalars(select(column).where(column.is_not(None))):
                if stored:
                    referenced.add(resolve_recording(settings, stored).resolve())
    for call in calls:
        for stored in (call.caller_audio_path, call.bot_audio_path, call.agent_audio_path):
            if not stored:
                continue
            path = resolve_recording(settings, stored)
            if path.is_file():
                report.files += 1
                report.bytes += path.stat().st_size
                if not dry_run:
                    path.unlink()
            else:
                report.missing.append(str(path))
            if not dry_run:
                _remove_empty_parents(path, recordings_dir(settings))
        report.calls += 1
        if not dry_run:
            store.update_call(call.id, caller_audio_path=None, bot_audio_path=None, agent_audio_path=None)
    report.orphans = _purge_orphans(recordings_dir(settings), referenced, report.cutoff, dry_run)
    return report


def _purge_orphans(root: Path, referenced: set[Path], cutoff: datetime, dry_run: bool) -> int:
    # Audio left by a crash before the call record was written, or by a deleted call.
    if not root.is_dir():
        return 0
    limit = cutoff.timestamp()
    count = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if path.resolve() in referenced or path.stat().st_mtime >= limit:
                continue
            count += 1
            if not dry_run:
                path.unlink()
                _remove_empty_parents(path, root)
    return count


def _remove_empty_parents(path: Path, root: Path) -> None:
    parent = path.parent
    root = root.resolve()
    while parent.resolve() != root and root in parent.resolve().parents:
        try:
            parent.rmdir()
        except OSError:  # not empty
            return
        parent = parent.parent
