"""The pipeline with the matching learner and self-training on a tiny demo corpus: score.json's
selection diagnostics and learning check, resume of self-training rounds, old GAN settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.stages.test_pipeline import DATA_TINY
from unsup_asr.cli import legacy_overrides, load_config
from unsup_asr.config import RunConfig
from unsup_asr.io import DONE
from unsup_asr.paths import RunPaths
from unsup_asr.stages import decode, demo, self_train

TINY = [
    *DATA_TINY,
    "learner=match",
    "learner.num_clusters=8",
    "learner.restarts=2",
    "learner.steps=30",
    "self_train.students=[segment,frame]",
    "self_train.epochs=2",
    "self_train.frame_epochs=1",
    "self_train.hidden=16",
    "score.ceilings=false",
    "score.check_clusters=8",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunConfig:
    cfg = load_config([*TINY, f"out={tmp_path_factory.mktemp('match')}"])
    demo.run(cfg)
    return cfg


def test_score_reports_selection_and_learning_check(run: RunConfig) -> None:
    score = json.loads(RunPaths(Path(run.out)).score.read_text())
    assert score["unsupervised_selection"]["learner"]["name"] == "match"
    assert score["unsupervised_selection"]["self_train"]["selected"] == "round2"
    learner = score["selection_diagnostics"]["learner"]
    assert learner["num_candidates"] == 2 and set(learner["per_by_candidate"]) == {"restart0", "restart1"}
    assert learner["best_per_seen"] <= learner["selected_per"]
    assert "spearman_match_loss_vs_per" in learner
    st = score["selection_diagnostics"]["self_train"]
    assert set(st["per_by_candidate"]) == {"round0", "round1", "round2"}
    assert st["selected_per"] == pytest.approx(score["per"])  # the final model is round 2's frame student
    check = score["learning_check"]
    for key in ("accuracy_model", "accuracy_random_tables_max", "accuracy_perfect_table", "pnmi_segment_clusters"):
        assert 0.0 <= check[key] <= 1.0
    assert check["accuracy_random_tables_mean"] <= check["accuracy_random_tables_max"]
    assert "USE LABELS" in score["diagnostics_note"]


def test_killed_self_training_resumes_from_the_last_round(run: RunConfig) -> None:
    root = RunPaths(Path(run.out)).self_train
    first = (root / "round1" / "model.pt").stat().st_mtime_ns
    (root / "round2" / DONE).unlink()  # killed during round 2
    self_train.run(run)
    assert (root / "round1" / "model.pt").stat().st_mtime_ns == first  # round 1 kept
    assert (root / "round2" / DONE).is_file()
    decode.run(run)


def test_refine_segments_by_the_frame_model(run: RunConfig) -> None:
    from unsup_asr.stages import refine

    summary = json.loads(refine.run(run).read_text())
    assert [r["iteration"] for r in summary["iterations"]] == [0, 1]
    job = RunPaths(Path(summary["iterations"][1]["out"]))
    inputs = json.loads((job.segments("aligned") / DONE).read_text())
    assert inputs["segmenter"]["model"].endswith("self_train/best.pt")
    assert 0.0 <= summary["iterations"][1]["evaluation_only"]["boundary_f1"] <= 1.0
    assert (job.out / "data").is_symlink()
    with pytest.raises(ValueError, match="frame model"):
        refine.run(load_config([*TINY, f"out={run.out}", "self_train.students=[segment]"]))


def test_changed_rounds_redo_only_what_changed(run: RunConfig) -> None:
    root = RunPaths(Path(run.out)).self_train
    first = (root / "round1" / "model.pt").stat().st_mtime_ns
    cfg = load_config([*TINY, f"out={run.out}", "self_train.students=[segment,segment]"])
    self_train.run(cfg)
    assert (root / "round1" / "model.pt").stat().st_mtime_ns == first
    summary = json.loads((root / "summary.json").read_text())
    assert [r["student"] for r in summary["rounds"]] == ["learner", "segment", "segment"]
    # the stopping rule: once a round changes fewer pseudo-labels than stop_change, that kind's later rounds are skipped
    cfg = load_config([*TINY, f"out={run.out}", "self_train.students=[segment,segment,segment,segment,frame]",
                       "self_train.stop_change=0.99"])
    self_train.run(cfg)
    rounds = json.loads((root / "summary.json").read_text())["rounds"]
    converged = next(r["round"] for r in rounds[1:] if r["changed"] < 0.99)  # tiny data: round 2 or 3
    assert [r["round"] for r in rounds] == [*range(converged + 1), 5]


def test_old_gan_settings_still_work(tmp_path: Path) -> None:
    assert legacy_overrides(["gan.num_updates=7", "+gan.x=1", "seed=2"]) == ["+gan.num_updates=7", "+gan.x=1", "seed=2"]
    cfg = load_config(["gan.num_updates=7", "gan.generator.num_clusters=0"])
    assert cfg.learner.name == "gan" and cfg.learner.num_updates == 7 and cfg.learner.generator.num_clusters == 0
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "config.yaml").write_text("defaults:\n  - run\n  - _self_\ngan:\n  num_updates: 9\n")
    assert load_config([], str(conf), "config").learner.num_updates == 9
    with pytest.raises(ValueError, match="learner is 'match'"):
        load_config(["learner=match"], str(conf), "config")
    with pytest.raises(ValueError, match="learner is 'match'"):
        load_config(["learner=match", "gan.num_updates=7"])
    with pytest.raises(Exception, match="not_a_field"):
        load_config(["gan.not_a_field=1"])  # merged into the typed GanConfig: unknown keys are refused
