"""``uasr ssl-pretrain`` data-parallel under ``torchrun``: two CPU processes (gloo) on a tiny tone corpus,
killed in the middle of an epoch and resumed; rank 0 alone writes files, each rank trains on half the batches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from unsup_asr.data.manifest import Utterance, write_manifest
from unsup_asr.paths import RunPaths
from unsup_asr.ssl import pretrain
from unsup_asr.ssl.config import SslModelConfig
from unsup_asr.ssl.model import frontend, load_checkpoint

TINY = [
    "ssl.model.num_mel_bins=16", "ssl.model.dim=32", "ssl.model.num_layers=2", "ssl.model.num_heads=2",
    "ssl.model.ffn_dim=64", "ssl.model.pos_conv_kernel=5", "ssl.model.pos_conv_groups=4", "ssl.batch_frames=160",
    "ssl.max_frames=80", "ssl.lr=3e-3", "ssl.mask_prob=0.1", "ssl.mask_length=3", "ssl.kmeans_max_frames=5000",
    "ssl.device=cpu",
    "ssl.iterations=[{targets: mfcc, num_clusters: 6, epochs: 3, max_seconds: 0},"
    "{targets: layer, target_layer: 1, num_clusters: 6, epochs: 1, max_seconds: 0}]",
]
"""The model and budget of tests/unit/ssl/test_ssl_pretrain.py, with batches of two utterances."""
KILL_IN_EPOCH_TWO = """
import sys
from unsup_asr.cli import main
from unsup_asr.ssl import pretrain

real, calls = pretrain.masked_accuracy, [0]

def dies_in_epoch_two(*args, **kwargs):
    calls[0] += 1
    if calls[0] == 2:  # after epoch 2's updates, before its last.pt
        raise SystemExit("killed in epoch 2")
    return real(*args, **kwargs)

pretrain.masked_accuracy = dies_in_epoch_two
sys.exit(main(sys.argv[1:]))
"""


def _tone_corpus(out: Path) -> None:
    """Utterances of 60-140 ms tones drawn from 6 frequencies (a toy 'phone inventory')."""
    rng = np.random.default_rng(0)
    freqs = [220.0, 330.0, 500.0, 800.0, 1200.0, 2000.0]
    for split, n in (("train", 16), ("valid", 3)):
        utts = []
        for i in range(n):
            parts: list[np.ndarray] = []
            while sum(len(p) for p in parts) < 16000 * 1.5:
                t = np.arange(int(rng.integers(960, 2240))) / 16000
                parts.append(0.3 * np.sin(2 * np.pi * freqs[int(rng.integers(6))] * t))
            wav = (np.concatenate(parts) + 0.01 * rng.standard_normal(sum(len(p) for p in parts))).astype(np.float32)
            sf.write(out / f"{split}{i}.wav", wav, 16000)
            utts.append(Utterance(id=f"{split}{i}", audio=str(out / f"{split}{i}.wav"), sample_rate=16000,
                                  num_samples=len(wav)))
        write_manifest(RunPaths(out).manifest(split), utts)


def _torchrun(out: Path, *entry: str) -> subprocess.CompletedProcess[str]:
    """Two processes on this machine (torchrun --standalone: rendezvous on a free localhost port)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *entry,
           "ssl-pretrain", "--config-name", "run", f"out={out}", *TINY]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_two_processes_train_resume_and_agree(tmp_path: Path) -> None:
    _tone_corpus(tmp_path)
    script = tmp_path / "kill_in_epoch_two.py"
    script.write_text(KILL_IN_EPOCH_TWO)
    killed = _torchrun(tmp_path, str(script))
    assert killed.returncode != 0, killed.stderr[-3000:]
    it1 = tmp_path / "exp" / "ssl" / "iter1"
    assert (it1 / "last.pt").is_file() and not (it1 / ".done").exists()
    assert not (tmp_path / "exp" / "ssl" / "model.pt").exists()  # nothing that looks finished
    blob = torch.load(it1 / "last.pt", map_location="cpu", weights_only=False)
    assert blob["state"]["epoch"] == 1 and len(blob["ranks"]) == 2  # each rank's random streams are kept
    assert blob["ranks"][0]["crop_rng"] != blob["ranks"][1]["crop_rng"]

    done = _torchrun(tmp_path, "-m", "unsup_asr.cli")
    assert done.returncode == 0, done.stderr[-3000:]
    model, info = load_checkpoint(tmp_path / "exp" / "ssl" / "model.pt")
    assert info["iteration"] == 2 and info["world_size"] == 2 and model.num_layers == 2
    history = [json.loads(line) for line in (it1 / "history.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] == [1, 2, 3]  # epoch 1 kept, epochs 2-3 trained after the restart
    # each rank takes every other batch of the same shuffled list: an epoch is half the single-process updates
    frames = pretrain.load_frames([RunPaths(tmp_path).manifest("train")], frontend(SslModelConfig(num_mel_bins=16)),
                                  "log-mel")
    batches = pretrain.length_batches([x.shape[0] for x in frames], 160, 80, np.random.default_rng(0))
    assert len(batches) >= 4
    assert [r["step"] for r in history] == [k * (len(batches) // 2) for k in (1, 2, 3)]
    assert history[-1]["train/loss"] < history[0]["train/loss"]
    assert history[-1]["monitor/masked_acc"] > 1 / 6  # above chance on the tones' 6 MFCC clusters
    assert (tmp_path / "exp" / "ssl" / "iter2" / ".done").is_file() and not (it1 / "last.pt").exists()
