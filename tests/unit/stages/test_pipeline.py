"""The whole pipeline on a tiny generated demo corpus: every stage, resume, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from unsup_asr.cli import load_config, main
from unsup_asr.config import RunConfig
from unsup_asr.io import DONE
from unsup_asr.paths import RunPaths
from unsup_asr.stages import demo, segment

DATA_TINY = [
    "data.demo.num_train=16",
    "data.demo.num_valid=4",
    "data.demo.num_test=4",
    "data.demo.num_unpaired_text=300",
    "segmenter.num_clusters=16",
    "segmenter.pca_dim=16",
]
"""A tiny demo corpus and its k-means-join segments (any learner)."""
ON_DEMO_RECIPE = ["segmenter=kmeans_join", "learner=gan", "self_train.students=[]"]
"""With the demo recipe (the CLI's default config folder): the schema's segmenter and learner that
TINY's keys set, and no self-training."""
TINY = [
    *DATA_TINY,
    "learner.num_updates=40",
    "learner.batch_size=8",
    "learner.eval_every=20",
    "learner.checkpoint_every=20",
    "score.ceiling_updates=20",
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> RunConfig:
    out = tmp_path_factory.mktemp("demo")
    cfg = load_config([*TINY, f"out={out}"])
    demo.run(cfg)
    return cfg


def test_demo_writes_score(tiny_run: RunConfig) -> None:
    score = json.loads(RunPaths(Path(tiny_run.out)).score.read_text())
    for key in ("per", "boundary_f1", "num_test_utterances", "seconds_total", "seconds_learn",
                "supervised_ceiling_per_same_segments", "supervised_ceiling_per_gold_segments"):
        assert key in score, key
    assert score["num_test_utterances"] == 4
    assert 0.0 <= score["boundary_f1"] <= 1.0
    assert score["per"] >= 0.0
    assert (RunPaths(Path(tiny_run.out)).learn("gan") / "curves.png").is_file()


def test_rerun_resumes_from_markers(tiny_run: RunConfig) -> None:
    paths = RunPaths(Path(tiny_run.out))
    seg_dir = paths.segments(tiny_run.segmenter.name)
    before = (seg_dir / "train.npz").stat().st_mtime_ns
    demo.run(tiny_run)
    assert (seg_dir / "train.npz").stat().st_mtime_ns == before  # cached, not recomputed
    # a stage killed before its marker was written is redone
    (seg_dir / DONE).unlink()
    segment.run(tiny_run)
    assert (seg_dir / DONE).is_file() and (seg_dir / "train.npz").stat().st_mtime_ns != before


def test_cli_show_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--show-config", "learner.steps=7"]) == 0
    out = capsys.readouterr().out
    assert "steps: 7" in out and "name: peaks" in out and "name: match" in out


def test_bad_override_is_a_clear_error() -> None:
    with pytest.raises(Exception, match="num_clusters"):
        load_config(["segmenter.num_clusters=1"])
