"""The default model: trained from the shipped seed data, rebuilt only when something it depends on changes.

The fingerprint covers the seed data, the taxonomy, the emergency rules (they shape the emergency
threshold), the training code and the encoder spec; `scripts/build-artefacts.sh` calls
`triage nlu build-default`, which skips itself when the fingerprint in meta.json matches.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from core.settings import Settings
from nlu.heads import HeadOptions
from nlu.train import SEED_TRAIN, TrainOptions, load_jsonl, train

HERE = Path(__file__).resolve().parent
SHIPPED_DIR = HERE / "shipped_model"
"""The default model, small enough to ship (about 110 KB): used when the settings' folder has none."""
_INPUTS = [
    *SEED_TRAIN,
    HERE / "taxonomy.yaml",
    HERE / "rules.yaml",
    HERE / "emergency_bank.yaml",
    HERE / "emergency_bank_extra.jsonl",
    HERE / "train.py",
    HERE / "heads.py",
    HERE / "embeddings.py",
]
DEFAULT_C = 30.0


def fingerprint(encoder: str) -> str:
    h = hashlib.sha256(f"{encoder}|C={DEFAULT_C}".encode())
    for p in _INPUTS:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def is_current(model_dir: Path, encoder: str) -> bool:
    meta = Path(model_dir) / "meta.json"
    if not meta.is_file() or not (Path(model_dir) / "heads.onnx").is_file():
        return False
    try:
        return json.loads(meta.read_text(encoding="utf-8")).get("build_fingerprint") == fingerprint(encoder)
    except (OSError, json.JSONDecodeError):
        return False


def build_default(
    model_dir: Path, encoder: str, cache_dir: Path | None = None, threads: int = 2, force: bool = False
) -> tuple[bool, Path]:
    """(built, model_dir): trains into a temporary folder, then swaps it in (a failure keeps the old one)."""
    model_dir = Path(model_dir)
    if not force and is_current(model_dir, encoder):
        return False, model_dir
    tmp = model_dir.with_name(model_dir.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    options = TrainOptions(
        encoder=encoder,
        head=HeadOptions(c=DEFAULT_C),
        cache_dir=cache_dir,
        threads=threads,
        emergency_bank=HERE / "emergency_bank.yaml",
    )
    train(load_jsonl(SEED_TRAIN), tmp, options)
    meta_path = tmp / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["build_fingerprint"] = fingerprint(encoder)
    meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    old = model_dir.with_name(model_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if model_dir.exists():
        model_dir.rename(old)
    tmp.rename(model_dir)
    shutil.rmtree(old, ignore_errors=True)
    return True, model_dir


def has_model(model_dir: Path) -> bool:
    return (Path(model_dir) / "meta.json").is_file() and (Path(model_dir) / "heads.onnx").is_file()


def resolve_model_dir(settings: Settings) -> Path:
    """The settings' model folder when it holds a model; else, unless a folder was configured
    explicitly, the model shipped in the package."""
    configured = settings.resolved_nlu_model_dir()
    if has_model(configured) or settings.nlu_model_dir is not None:
        return configured
    return SHIPPED_DIR


def ship(encoder: str, cache_dir: Path | None = None, threads: int = 2) -> Path:
    """Rebuild the shipped copy (after editing the seed data, taxonomy, rules or training code)."""
    build_default(SHIPPED_DIR, encoder, cache_dir, threads, force=True)
    (SHIPPED_DIR / "__init__.py").write_text(
        '"""The shipped default model (data only)."""\n', encoding="utf-8"
    )
    return SHIPPED_DIR
