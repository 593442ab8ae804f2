"""``python -m unsup_asr.launch``: the pipeline's jobs run by hydra's submitit launcher (``submitit_local``: each job
its own process, as on a SLURM cluster): two extraction shards, and a layer sweep whose jobs ``uasr sweep-layers``
then finds finished."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from unsup_asr import cli, launch
from unsup_asr.cli import load_config
from unsup_asr.features.cache import split_done
from unsup_asr.ssl.config import SslModelConfig
from unsup_asr.ssl.model import SslModel, save_checkpoint
from unsup_asr.stages import extract_features, prepare_data
from unsup_asr.sweep import run as sweep_run

from .test_pipeline import DATA_TINY

LEARN_TINY = ["learner.num_updates=40", "learner.batch_size=8", "learner.eval_every=20",
              "learner.checkpoint_every=20", "learner.num_seeds=1", "score.ceilings=false"]
"""One short GAN run per job, no supervised ceilings."""


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    """A recipe folder whose config is the plain schema (MFCC, k-means join, GAN)."""
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "config.yaml").write_text("defaults:\n  - run\n  - _self_\n")
    return folder


def _launch(tmp_path: Path, conf: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command, rest = args[0], args[1:]
    cmd = [sys.executable, "-m", "unsup_asr.launch", command, "-m", "--config-dir", str(conf),
           "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10", f"hydra.sweep.dir={tmp_path / 'multirun'}",
           *rest]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


def _job_logs(tmp_path: Path) -> list[str]:
    """What each submitit job (one process each) wrote to its stdout and stderr."""
    jobs = sorted(p for p in (tmp_path / "multirun" / ".submitit").glob("*") if list(p.glob("*_log.out")))
    return ["".join(f.read_text() for f in sorted(job.glob("*_log.*"))) for job in jobs]


def test_two_extraction_shards_as_submitit_jobs(tmp_path: Path, conf: Path) -> None:
    out = tmp_path / "run"
    prepare_data.run(load_config([*DATA_TINY, f"out={out}"], str(conf), "config"))
    _launch(tmp_path, conf, "extract_features", f"out={out}", *DATA_TINY, "extract.world_size=2",
            "extract.rank=range(0,2)")
    logs = _job_logs(tmp_path)
    assert len(logs) == 2 and sorted("shard 0/2" in log for log in logs) == [False, True]
    assert all("Job completed successfully" in log for log in logs)
    folder = extract_features.features_folder(load_config([*DATA_TINY, f"out={out}"], str(conf), "config"))
    assert all(split_done(folder, s) for s in ("train", "valid", "test"))  # the shard finishing last merged
    assert not list(folder.glob("*.shard*"))
    ref = tmp_path / "single"
    shutil.copytree(out / "data", ref / "data")
    single = extract_features.run(load_config([*DATA_TINY, f"out={ref}"], str(conf), "config"))
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == {p.name: p.read_bytes() for p in single.iterdir()}


@pytest.mark.slow
def test_layer_sweep_jobs_as_submitit_jobs(tmp_path: Path, conf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    ckpt = tmp_path / "ssl.pt"
    save_checkpoint(ckpt, SslModel(SslModelConfig(num_mel_bins=16, dim=16, num_layers=2, num_heads=2, ffn_dim=32,
                                                  pos_conv_kernel=5, pos_conv_groups=4)), {})
    out = tmp_path / "run"
    overrides = [f"out={out}", *DATA_TINY[:4], "segmenter.num_clusters=16", "segmenter.pca_dim=8", *LEARN_TINY,
                 "features=ssl", f"features.path={ckpt}", "layer=1,2", "sweep.pnmi_clusters=8",
                 "sweep.pnmi_max_frames=2000"]
    _launch(tmp_path, conf, "sweep-layers", *overrides)
    logs = _job_logs(tmp_path)
    assert len(logs) == 2 and all("[score]" in log for log in logs)  # each job ran the pipeline in its process
    root = out / "sweep" / "layers"
    rows = list(csv.DictReader((root / "sweep.csv").open()))
    assert [(r["job"], r["layer"]) for r in rows] == [("layer1", "1"), ("layer2", "2")]
    assert all(float(r["selection_score"]) > 0 and r["pnmi"] for r in rows)
    assert (root / "layer1" / "data").is_symlink() and (root / "layer2" / "score.json").is_file()

    def no_pipeline(cfg: object) -> None:
        raise AssertionError("uasr sweep-layers ran a job that the launched sweep had finished")

    monkeypatch.setattr(sweep_run, "run_pipeline", no_pipeline)
    assert cli.main(["sweep-layers", "--config-dir", str(conf), *overrides]) == 0
    assert list(csv.DictReader((root / "sweep.csv").open())) == rows


@pytest.mark.parametrize(
    ("argv", "match"),
    [([], "COMMAND"), (["decode_all"], "COMMAND"), (["extract_features", "-m", "out=x"], "needs --config-dir"),
     (["sweep-layers", "--config-dir", ".", "layer=1,2"], "add -m")],
)
def test_usage_errors_name_the_fix(argv: list[str], match: str) -> None:
    with pytest.raises(SystemExit, match=match):
        launch.main(argv)


def test_hydra_overrides_are_not_the_jobs() -> None:
    given = ["hydra/launcher=submitit_slurm", "hydra.launcher.gpus_per_node=1", "layer=9,12", "+extract.layers=[1]"]
    assert launch.task_overrides(given) == ["layer=9,12", "+extract.layers=[1]"]
