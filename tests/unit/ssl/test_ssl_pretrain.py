"""``uasr ssl-pretrain`` end to end on a tiny generated corpus: both target kinds, outputs, the
learning signal, caching of finished iterations and resumption of a killed one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from unsup_asr.cli import load_config
from unsup_asr.config import RunConfig
from unsup_asr.data.manifest import Utterance, write_manifest
from unsup_asr.paths import RunPaths
from unsup_asr.ssl import pretrain
from unsup_asr.ssl.model import SslModel, load_checkpoint


def _tone_corpus(out: Path) -> None:
    """Utterances of 60-140 ms tones drawn from 6 frequencies (a toy 'phone inventory')."""
    rng = np.random.default_rng(0)
    freqs = [220.0, 330.0, 500.0, 800.0, 1200.0, 2000.0]
    paths = RunPaths(out)
    for split, n in (("train", 16), ("valid", 3)):
        utts = []
        for i in range(n):
            parts = []
            while sum(len(p) for p in parts) < 16000 * 1.5:
                dur = int(rng.integers(960, 2240))
                t = np.arange(dur) / 16000
                parts.append(0.3 * np.sin(2 * np.pi * freqs[int(rng.integers(6))] * t))
            wav = (np.concatenate(parts) + 0.01 * rng.standard_normal(sum(len(p) for p in parts))).astype(np.float32)
            path = out / f"{split}{i}.wav"
            sf.write(path, wav, 16000)
            utts.append(Utterance(id=f"{split}{i}", audio=str(path), sample_rate=16000, num_samples=len(wav)))
        write_manifest(paths.manifest(split), utts)


def _cfg(out: Path, epochs: int = 4) -> RunConfig:
    return load_config([
        f"out={out}", "ssl.model.num_mel_bins=16", "ssl.model.dim=32", "ssl.model.num_layers=2",
        "ssl.model.num_heads=2", "ssl.model.ffn_dim=64", "ssl.model.pos_conv_kernel=5", "ssl.model.pos_conv_groups=4",
        "ssl.batch_frames=300", "ssl.max_frames=100", "ssl.lr=3e-3", "ssl.mask_prob=0.1", "ssl.mask_length=3",
        "ssl.kmeans_max_frames=5000",
        f"ssl.iterations=[{{targets: mfcc, num_clusters: 6, epochs: {epochs}, max_seconds: 0}},"
        "{targets: layer, target_layer: 1, num_clusters: 6, epochs: 2, max_seconds: 0}]",
    ], None, "run")


def test_pretrain_two_iterations_then_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tone_corpus(tmp_path)
    final = pretrain.run(_cfg(tmp_path))
    assert final == tmp_path / "exp" / "ssl" / "model.pt"
    model, info = load_checkpoint(final)
    assert info["iteration"] == 2 and info["targets"] == "layer" and info["splits"] == ["train"]
    assert model.num_layers == 2 and model.head is None
    for i, epochs in ((1, 4), (2, 2)):
        d = tmp_path / "exp" / "ssl" / f"iter{i}"
        history = [json.loads(line) for line in (d / "history.jsonl").read_text().splitlines()]
        assert [r["epoch"] for r in history] == list(range(1, epochs + 1))
        assert (d / "curves.png").stat().st_size > 0 and (d / "targets.npz").is_file()
        assert (d / ".done").is_file() and not (d / "last.pt").exists()
    first = [json.loads(line) for line in (tmp_path / "exp/ssl/iter1/history.jsonl").read_text().splitlines()]
    # the tones are easy: masked frames' MFCC clusters become predictable well above chance (1/6)
    assert first[-1]["train/loss"] < first[0]["train/loss"]
    assert first[-1]["monitor/masked_acc"] > 0.3, first

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a finished iteration was trained again")

    monkeypatch.setattr(pretrain, "train_iteration", no_training)
    assert pretrain.run(_cfg(tmp_path)) == final
    # a run with only the first iteration reuses it (later iterations are not part of its identity)
    one = _cfg(tmp_path)
    one.ssl.iterations = one.ssl.iterations[:1]
    assert pretrain.run(one) == final
    assert load_checkpoint(final)[1]["iteration"] == 1


def test_changing_a_later_iteration_keeps_the_earlier_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tone_corpus(tmp_path)
    cfg = _cfg(tmp_path, epochs=2)
    pretrain.run(cfg)
    trained: list[str] = []
    real = pretrain.train_iteration

    def recording(scfg: object, it: object, frames: object, targets: object, monitor: object, out_dir: Path,
                  device: object, **kwargs: object) -> object:
        trained.append(out_dir.name)
        return real(scfg, it, frames, targets, monitor, out_dir, device, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pretrain, "train_iteration", recording)
    cfg.ssl.iterations[1].epochs = 1
    pretrain.run(cfg)
    assert trained == ["iter2"]
    cfg.ssl.iterations[0].epochs = 1
    pretrain.run(cfg)
    assert trained == ["iter2", "iter1", "iter2"]  # iteration 2's targets come from iteration 1


def test_an_iteration_can_continue_from_the_previous_weights(tmp_path: Path) -> None:
    _tone_corpus(tmp_path)
    cfg = _cfg(tmp_path, epochs=2)
    cfg.ssl.iterations[1].init = "previous"
    first = tmp_path / "exp" / "ssl" / "iter1" / "model.pt"
    pretrain.run(cfg)
    start, _ = load_checkpoint(first)
    final, info = load_checkpoint(tmp_path / "exp" / "ssl" / "model.pt")
    assert info["iteration"] == 2
    history = [json.loads(line) for line in (tmp_path / "exp/ssl/iter2/history.jsonl").read_text().splitlines()]
    assert history[0]["epoch"] == 1
    # continued, not re-initialised: the weights moved but stay close to iteration 1's (a fresh
    # initialisation would be as far from them as two random draws)
    fresh = SslModel(cfg.ssl.model)
    w1, w2, w0 = (m.proj.weight.detach() for m in (start, final, fresh))
    assert 0 < (w2 - w1).norm() < 0.5 * (w0 - w1).norm()


def test_killed_iteration_resumes_from_last_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tone_corpus(tmp_path)
    cfg = _cfg(tmp_path, epochs=3)
    real = pretrain.masked_accuracy
    calls = {"n": 0}

    def dies_in_epoch_two(*args: object, **kwargs: object) -> float:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pretrain, "masked_accuracy", dies_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        pretrain.run(cfg)
    it1 = tmp_path / "exp" / "ssl" / "iter1"
    assert (it1 / "last.pt").is_file() and not (it1 / ".done").exists()
    assert not (tmp_path / "exp" / "ssl" / "model.pt").exists()  # nothing that looks finished
    monkeypatch.setattr(pretrain, "masked_accuracy", real)
    pretrain.run(cfg)
    history = [json.loads(line) for line in (it1 / "history.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] == [1, 2, 3]  # epoch 1 kept, epochs 2-3 trained after the restart
    steps = [r["step"] for r in history]
    assert steps[1] - steps[0] == steps[0] and steps[2] - steps[1] == steps[0]


def test_bad_settings_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="first ssl iteration has no previous model"):
        load_config([f"out={tmp_path}", "ssl.iterations=[{targets: layer}]"], None, "run").validate()
    with pytest.raises(ValueError, match="use init=fresh"):
        load_config([f"out={tmp_path}", "ssl.iterations=[{targets: mfcc, init: previous}]"], None, "run").validate()
    with pytest.raises(ValueError, match="init must be"):
        load_config([f"out={tmp_path}", "ssl.iterations=[{targets: mfcc},{init: warm}]"], None, "run").validate()
    with pytest.raises(ValueError, match="target_layer 9"):
        load_config([f"out={tmp_path}", "ssl.iterations=[{targets: mfcc},{targets: layer, target_layer: 9}]"],
                    None, "run").validate()
