"""The extract_features stage's execution modes on tiny generated audio: length-batched, sharded
(rank by rank, merged in manifest order), resumed after a kill, and several layers from one pass.
Every mode must give the same cache as a plain one-utterance-at-a-time run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch
from transformers import AutoModel, HubertConfig

from unsup_asr.cli import load_config
from unsup_asr.data.manifest import Utterance, write_manifest
from unsup_asr.features.cache import FeatureSet, shard_name, split_done
from unsup_asr.features.extract_config import ExtractConfig
from unsup_asr.features.featurizer import Featurizer
from unsup_asr.paths import RunPaths
from unsup_asr.stages import extract_features

SECONDS = {"train": [1.0, 0.4, 1.3, 0.7, 0.5], "valid": [0.5], "test": [0.9, 0.6]}
"""Utterance durations per split, deliberately not sorted (valid has fewer utterances than 2 shards)."""


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Noise bursts of the durations in SECONDS, written once for every run of this module."""
    folder = tmp_path_factory.mktemp("audio")
    rng = np.random.default_rng(0)
    for split, seconds in SECONDS.items():
        for i, s in enumerate(seconds):
            wav = (0.1 * rng.standard_normal(int(16000 * s))).astype(np.float32)
            sf.write(folder / f"{split}{i}.wav", wav, 16000)
    return folder


@pytest.fixture(scope="module")
def hubert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("hubert")
    config = HubertConfig(  # type: ignore[no-untyped-call]
        hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=64, conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
    )
    AutoModel.from_config(config).save_pretrained(folder)  # type: ignore[no-untyped-call]
    return folder


def _manifests(out: Path, audio: Path) -> None:
    paths = RunPaths(out)
    for split, seconds in SECONDS.items():
        utts = [Utterance(id=f"{split}{i}", audio=str(audio / f"{split}{i}.wav"), sample_rate=16000,
                          num_samples=int(16000 * s)) for i, s in enumerate(seconds)]
        write_manifest(paths.manifest(split), utts)


def _run(out: Path, audio: Path, *overrides: str) -> Path:
    _manifests(out, audio)
    return extract_features.run(load_config([f"out={out}", *overrides], None, "run"))


class Spy(Featurizer):
    """Wraps the real featurizer: records each call's batch size and layers; can fail like a kill."""

    def __init__(self, inner: Featurizer, fail_at_call: int = 0) -> None:
        self.inner = inner
        self.num_layers, self.dim, self.frame_shift_s = inner.num_layers, inner.dim, inner.frame_shift_s
        self.fail_at_call = fail_at_call
        self.calls: list[tuple[int, list[int]]] = []

    def cache_config(self) -> dict[str, Any]:
        return self.inner.cache_config()

    def __call__(
        self, wavs: torch.Tensor, wav_lens: torch.Tensor, layers: Sequence[int]
    ) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
        self.calls.append((int(wavs.shape[0]), list(layers)))
        if len(self.calls) == self.fail_at_call:
            raise RuntimeError("simulated kill")
        return self.inner(wavs, wav_lens, layers)


def _spy(monkeypatch: pytest.MonkeyPatch, fail_at_call: int = 0) -> list[Spy]:
    """Make extract_features build Spy-wrapped featurizers; returns the list of spies built."""
    real = extract_features.build_featurizer
    spies: list[Spy] = []

    def build(cfg: Any) -> Featurizer:
        spies.append(Spy(real(cfg), fail_at_call))
        return spies[-1]

    monkeypatch.setattr(extract_features, "build_featurizer", build)
    return spies


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_batched_equals_one_at_a_time_in_manifest_order(
    tmp_path: Path, audio: Path, hubert: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hf = ["features=hf", f"features.path={hubert}", "layer=2"]
    single = _run(tmp_path / "single", audio, *hf)
    spies = _spy(monkeypatch)
    batched = _run(tmp_path / "batched", audio, *hf, "extract.batch_seconds=2.0")
    sizes = [b for b, _ in spies[-1].calls]
    assert sum(sizes) == sum(len(s) for s in SECONDS.values()) and max(sizes) > 1  # really batched
    for split, seconds in SECONDS.items():
        a, b = FeatureSet(single, split), FeatureSet(batched, split)
        assert a.ids == b.ids == [f"{split}{i}" for i in range(len(seconds))]
        assert a.lens.tolist() == b.lens.tolist()
        for i in range(len(a)):
            np.testing.assert_allclose(b[i], a[i], rtol=2e-3, atol=2e-3)  # float16 cache
    # MFCC is computed utterance by utterance: batching must not change a single byte
    mfcc_single = _run(tmp_path / "mfcc_single", audio)
    mfcc_batched = _run(tmp_path / "mfcc_batched", audio, "extract.batch_seconds=2.0")
    assert _files(mfcc_single) == _files(mfcc_batched)


def test_two_shards_give_the_single_worker_files(tmp_path: Path, audio: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = _run(tmp_path / "one", audio)
    out = tmp_path / "two"
    folder = _run(out, audio, "extract.world_size=2", "extract.rank=0")
    for split in SECONDS:
        assert not split_done(folder, split)  # only rank 0's half exists
        assert split_done(folder, shard_name(split, 0, 2)) and not split_done(folder, shard_name(split, 1, 2))
    with pytest.raises(FileNotFoundError, match="run the extract_features stage"):
        FeatureSet(folder, "train")
    spies = _spy(monkeypatch)
    _run(out, audio, "extract.world_size=2", "extract.rank=0")  # finished shards are skipped
    assert spies[-1].calls == []
    assert _run(out, audio, "extract.world_size=2", "extract.rank=1") == folder
    assert _files(folder) == _files(reference)  # merged in manifest order, shard files removed
    assert len(spies[-1].calls) == sum(len(s) - len(s) // 2 for s in SECONDS.values())  # rank 1's share only


def test_killed_extraction_leaves_nothing_done_and_resumes(
    tmp_path: Path, audio: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = _run(tmp_path / "clean", audio)
    out, sharded = tmp_path / "killed", tmp_path / "sharded"
    _run(sharded, audio, "extract.world_size=2", "extract.rank=0")
    _spy(monkeypatch, fail_at_call=3)  # the third utterance of train raises mid-stream
    with pytest.raises(RuntimeError, match="simulated kill"):
        _run(out, audio)
    folder = out / reference.relative_to(tmp_path / "clean")
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json"]  # nothing done, no temporary file left
    with pytest.raises(RuntimeError, match="simulated kill"):
        _run(sharded, audio, "extract.world_size=2", "extract.rank=1")  # rank 1 killed inside its train shard
    shards = sharded / reference.relative_to(tmp_path / "clean")
    assert split_done(shards, shard_name("train", 0, 2)) and not split_done(shards, shard_name("train", 1, 2))
    assert not any(split_done(shards, s) for s in SECONDS)
    assert not [p for p in shards.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    assert _run(out, audio) == folder and _files(folder) == _files(reference)
    _run(sharded, audio, "extract.world_size=2", "extract.rank=1")
    assert _files(shards) == _files(reference)


def test_layers_from_one_pass_equal_single_layer_runs(
    tmp_path: Path, audio: Path, hubert: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hf = ["features=hf", f"features.path={hubert}"]
    separate = {k: _run(tmp_path / f"L{k}", audio, *hf, f"layer={k}") for k in (1, 2)}
    spies = _spy(monkeypatch)
    main = _run(tmp_path / "both", audio, *hf, "layer=1", "extract.layers=[2]")
    assert main.name == "L1" and (main.parent / "L2").is_dir()
    assert spies[-1].calls == [(1, [1, 2])] * sum(len(s) for s in SECONDS.values())  # one pass per utterance
    for k, folder in separate.items():
        for split in SECONDS:
            a, b = FeatureSet(folder, split), FeatureSet(main.parent / f"L{k}", split)
            assert a.ids == b.ids and b.meta["layer"] == k
            for i in range(len(a)):
                np.testing.assert_allclose(b[i], a[i], rtol=2e-3, atol=2e-3)


def test_plan_batches_covers_each_utterance_once_within_budget() -> None:
    lengths = [10, 4, 13, 7, 5, 30, 2, 2, 9]
    windows = list(extract_features.plan_batches(lengths, 20))
    flat = [i for w in windows for b in w for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    start = 0
    for window in windows:  # windows are consecutive runs of the manifest
        members = sorted(i for b in window for i in b)
        assert members == list(range(start, start + len(members)))
        start += len(members)
        for batch in window:
            assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 20
    assert any(len(b) > 1 for w in windows for b in w)
    assert [b for w in extract_features.plan_batches(lengths, 0) for b in w] == [[i] for i in range(len(lengths))]


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [("world_size", 0, "world_size"), ("rank", 2, "rank"), ("batch_seconds", -1.0, "batch_seconds"),
     ("device", "tpu", "device"), ("layers", [-1], "layers")],
)
def test_extract_config_validate(field: str, value: object, match: str) -> None:
    cfg = ExtractConfig(world_size=2)
    setattr(cfg, field, value)
    with pytest.raises(ValueError, match=match):
        cfg.validate()
