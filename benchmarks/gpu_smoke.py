"""GPU smoke test: the demo pipeline on CUDA and on the CPU, same inputs, outputs compared.

Runs ``uasr demo`` (a small corpus by default) once with ``device=cpu`` and, when a CUDA device is
present, once with ``device=cuda`` (every stage's device: features, segmenter, learner,
self-training), and reports seconds per stage for each device and how far the CUDA outputs are
from the CPU ones: the maximum absolute difference of the cached features, whether the segment
boundaries agree, the learner's label-free scores, and the test PER. Without a GPU it runs on the
CPU only and says that it found none.

Usage::

    python benchmarks/gpu_smoke.py --out benchmarks/results/gpu_smoke.json
    python benchmarks/gpu_smoke.py --set data.demo.num_train=1200 --set learner.restarts=8   # the full demo
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unsup_asr.cli import DEMO_CONF, load_config
from unsup_asr.config import RunConfig
from unsup_asr.features.cache import FeatureSet
from unsup_asr.io import atomic_write_json
from unsup_asr.paths import RunPaths
from unsup_asr.stages import demo
from unsup_asr.stages.extract_features import features_folder
from unsup_asr.stages.segment import load_segments, segments_path

logger = logging.getLogger("gpu_smoke")

SMALL = [
    "data.demo.num_train=200", "data.demo.num_valid=40", "data.demo.num_test=40", "data.demo.num_unpaired_text=3000",
    "learner.restarts=4", "learner.steps=500", "self_train.students=[segment,frame]", "score.ceilings=false",
]
"""A demo small enough to run in a few minutes on a CPU."""


def run_on(device: str, overrides: list[str], work: Path) -> tuple[RunConfig, dict[str, Any]]:
    """The demo recipe's pipeline with every stage on ``device``; its score.json."""
    cfg = load_config([*overrides, f"device={device}", f"out={work / device}"], str(DEMO_CONF), "config")
    demo.run(cfg)
    return cfg, json.loads(RunPaths(Path(cfg.out)).score.read_text(encoding="utf-8"))


def compare(cpu: RunConfig, gpu: RunConfig) -> dict[str, Any]:
    """How far the GPU run's outputs are from the CPU run's, stage by stage."""
    out: dict[str, Any] = {}
    split = cpu.splits.test
    a, b = FeatureSet(features_folder(cpu), split), FeatureSet(features_folder(gpu), split)
    out["features_max_abs_diff"] = float(max(np.abs(np.asarray(a[i], np.float32) - np.asarray(b[i], np.float32)).max()
                                             for i in range(len(a))))
    sa, sb = load_segments(segments_path(cpu, split)), load_segments(segments_path(gpu, split))
    same = [np.array_equal(x, y) for x, y in zip(sa.boundaries, sb.boundaries, strict=True)]
    out["segment_boundaries_equal_share"] = float(np.mean(same))
    for name, cfg in (("cpu", cpu), ("cuda", gpu)):
        sel = json.loads((RunPaths(Path(cfg.out)).learn(cfg.learner.name) / "selection.json").read_text())
        out[f"learner_score_{name}"] = sel["score"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/gpu_smoke.json"), help="JSON output")
    parser.add_argument("--work-dir", type=Path, default=Path("benchmarks/results/gpu_smoke_run"),
                        help="scratch folder (wiped)")
    parser.add_argument("--set", action="append", default=[], help="extra key=value override (repeatable)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    shutil.rmtree(args.work_dir, ignore_errors=True)
    overrides = [*SMALL, *args.set]
    figures: dict[str, Any] = {"cuda_available": torch.cuda.is_available(), "overrides": overrides}
    cpu_cfg, cpu_score = run_on("cpu", overrides, args.work_dir)
    figures["cpu"] = {k: v for k, v in cpu_score.items() if k.startswith("seconds_") or k in ("per", "per_phone_lm")}
    if torch.cuda.is_available():
        figures["cuda_device"] = torch.cuda.get_device_name(0)
        gpu_cfg, gpu_score = run_on("cuda", overrides, args.work_dir)
        figures["cuda"] = {k: v for k, v in gpu_score.items()
                           if k.startswith("seconds_") or k in ("per", "per_phone_lm")}
        figures["agreement"] = compare(cpu_cfg, gpu_cfg)
        logger.info("CUDA (%s) vs CPU: %s", figures["cuda_device"], json.dumps(figures["agreement"]))
    else:
        logger.info("no CUDA device found: ran the pipeline on the CPU only")
    atomic_write_json(args.out, figures)
    logger.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
