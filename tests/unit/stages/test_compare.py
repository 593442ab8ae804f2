"""``uasr compare-segmenters`` on a tiny demo corpus: one table with boundary scores and PER per
segmenter, the boundary figure, the run's own segments untouched, cached re-runs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from unsup_asr.cli import main
from unsup_asr.paths import RunPaths
from unsup_asr.stages import segment
from unsup_asr.sweep.compare import spec_overrides

from .test_pipeline import ON_DEMO_RECIPE, TINY


def test_spec_overrides() -> None:
    assert spec_overrides("recipe") == []
    assert spec_overrides("recipe:num_clusters=8") == ["segmenter.num_clusters=8"]
    assert spec_overrides("uniform:frames=5") == ["segmenter=uniform", "segmenter.frames=5"]
    assert spec_overrides("sawv:epochs=1, hidden_dim=16") == ["segmenter=sawv", "segmenter.epochs=1",
                                                               "segmenter.hidden_dim=16"]


def test_compare_segmenters_with_gan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "run"
    specs = "[recipe,'uniform:frames=3','sawv:epochs=2,hidden_dim=16,embedding_dim=8,max_seconds=0']"
    args = ["compare-segmenters", *ON_DEMO_RECIPE, *TINY, f"out={out}", f"compare.segmenters={specs}",
            "compare.gan=true", "compare.plot_utterances=2"]
    assert main(args) == 0
    root = out / "compare" / "segmenters"
    rows = list(csv.DictReader((root / "compare.csv").open()))
    assert [r["segmenter"] for r in rows] == ["recipe", "uniform:frames=3",
                                              "sawv:epochs=2,hidden_dim=16,embedding_dim=8,max_seconds=0"]
    for r in rows:
        assert 0.0 <= float(r["f1"]) <= 1.0 and float(r["segments_per_second"]) > 0
        assert float(r["per"]) >= 0.0 and float(r["selection_score"]) > 0
    # uniform every 3 frames = 60 ms segments: 16.7 per second of audio, plus each utterance's last partial one
    assert 16.0 < float(rows[1]["segments_per_second"]) < 18.0
    assert len({r["f1"] for r in rows}) == 3
    md = (root / "compare.md").read_text()
    assert md.count("\n") == 5 and "PER" in md
    assert (root / "boundaries.png").stat().st_size > 10_000
    assert not RunPaths(out).segments("kmeans_join").exists()  # the run's own segments are not written

    def no_segmenting(cfg):  # type: ignore[no-untyped-def]
        raise AssertionError("a finished comparison row was recomputed")

    monkeypatch.setattr(segment, "run", no_segmenting)
    assert main(args) == 0
    assert list(csv.DictReader((root / "compare.csv").open())) == rows
