"""Sentence embeddings with an on-disk cache keyed by encoder and text hash.

Training and benchmarks encode the same thousands of sentences again and again; the encoder is
the slow part, so its output is cached as ``.npy`` under ``<cache_dir>/embeddings``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from models.encoders import SentenceEncoder


def texts_hash(texts: list[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:20]


def encode_texts(
    encoder: SentenceEncoder, texts: list[str], cache_dir: Path | None = None, batch: int = 256
) -> np.ndarray:
    """Encode as queries (classification input), reusing a cached array when one matches."""
    parts = getattr(encoder, "parts", None)
    if parts is not None and hasattr(encoder, "combine"):
        return encoder.combine([encode_texts(p, texts, cache_dir, batch) for p in parts])
    path: Path | None = None
    if cache_dir is not None:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in encoder.name)[-60:]
        path = Path(cache_dir) / "embeddings" / f"{safe}-{texts_hash(texts)}.npy"
        if path.is_file():
            arr = np.load(path)
            if arr.shape == (len(texts), encoder.dim):
                return arr
    chunks = [encoder.encode_queries(texts[i : i + batch]) for i in range(0, len(texts), batch)]
    arr = np.concatenate(chunks, axis=0) if chunks else np.zeros((0, encoder.dim), np.float32)
    arr = arr.astype(np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, arr)
        tmp.replace(path)
    return arr
