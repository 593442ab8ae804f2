"""``uasr sweep-layers`` on a tiny demo corpus with a tiny randomly initialised SSL model: hydra
multirun expansion, one extraction pass for all layers, one pipeline per job, CSV, plot, resume."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from unsup_asr.cli import main
from unsup_asr.ssl.config import SslModelConfig
from unsup_asr.ssl.model import SslModel, save_checkpoint
from unsup_asr.stages import extract_features, segment
from unsup_asr.sweep import run as sweep_run

from .test_pipeline import ON_DEMO_RECIPE, TINY


def test_expand_uses_hydra_multirun_syntax() -> None:
    swept, jobs = sweep_run.expand(["layer=0,2", "gan.seed=range(0,2)", "gan.num_updates=5"])
    assert swept == ["layer", "gan.seed"]
    assert jobs == [["layer=0", "gan.seed=0", "gan.num_updates=5"], ["layer=0", "gan.seed=1", "gan.num_updates=5"],
                    ["layer=2", "gan.seed=0", "gan.num_updates=5"], ["layer=2", "gan.seed=1", "gan.num_updates=5"]]
    assert sweep_run.job_name(jobs[1], swept) == "layer0_gan.seed1"


def test_sweep_layers_on_the_demo_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    ckpt = tmp_path / "ssl.pt"
    save_checkpoint(ckpt, SslModel(SslModelConfig(num_mel_bins=16, dim=16, num_layers=2, num_heads=2, ffn_dim=32,
                                                  pos_conv_kernel=5, pos_conv_groups=4)), {})
    out = tmp_path / "run"
    args = ["sweep-layers", *ON_DEMO_RECIPE, *TINY, f"out={out}", "features=ssl", f"features.path={ckpt}",
            "layer=0,1,2", "sweep.pnmi_clusters=8", "sweep.pnmi_max_frames=2000", "segmenter.pca_dim=8"]
    calls: list[list[int]] = []
    real_extract = extract_features.run

    def counting_extract(cfg):  # type: ignore[no-untyped-def]
        calls.append([cfg.layer, *cfg.extract.layers])
        return real_extract(cfg)

    monkeypatch.setattr(extract_features, "run", counting_extract)
    assert main(args) == 0
    assert calls == [[0, 1, 2]]  # all layers from one extraction pass
    root = out / "sweep" / "layers"
    rows = list(csv.DictReader((root / "sweep.csv").open()))
    assert [r["job"] for r in rows] == ["layer0", "layer1", "layer2"]
    assert [r["layer"] for r in rows] == ["0", "1", "2"]
    for r in rows:
        assert 0.0 <= float(r["per"]) and float(r["selection_score"]) > 0
        assert 0.0 <= float(r["pnmi"]) <= 1.0 and 0.0 < float(r["phone_purity"]) <= 1.0
        assert r["supervised_probe_per"] != ""
    # the layers really differ (the jobs did not share one cache folder)
    assert len({r["pnmi"] for r in rows}) == 3
    assert (root / "sweep.png").stat().st_size > 0
    assert (root / "layer1" / "data").is_symlink() and (root / "layer1" / "score.json").is_file()

    # a re-run reads every finished job from its result.json: no stage runs again
    def no_stage(cfg):  # type: ignore[no-untyped-def]
        raise AssertionError("a finished sweep job ran again")

    monkeypatch.setattr(segment, "run", no_stage)
    assert main(args) == 0
    assert list(csv.DictReader((root / "sweep.csv").open())) == rows
