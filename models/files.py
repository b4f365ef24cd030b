"""Files that packaged models arrive in: a package's folder found without importing it, and a hash."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path


def package_dir(module: str) -> Path | None:
    """The installed package's folder, found without importing it (some import heavy frameworks);
    None when the package is not installed."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
