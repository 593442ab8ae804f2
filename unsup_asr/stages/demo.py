"""``uasr demo``: every stage in order on the embedded demo corpus, with per-stage timings.

Re-running after a kill resumes: finished stages are skipped by their completion markers and GAN
training resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from unsup_asr.config import RunConfig
from unsup_asr.io import atomic_write_json
from unsup_asr.paths import RunPaths
from unsup_asr.stages import decode, extract_features, learn, prepare_data, prepare_text, score, segment, self_train

logger = logging.getLogger(__name__)

PIPELINE: list[tuple[str, Callable[[RunConfig], Path]]] = [
    ("prepare_data", prepare_data.run),
    ("extract_features", extract_features.run),
    ("prepare_text", prepare_text.run),
    ("segment", segment.run),
    ("learn", learn.run),
    ("self_train", self_train.run),
    ("decode", decode.run),
]


def run(cfg: RunConfig) -> Path:
    cfg.validate()
    t_start = time.time()
    timings: dict[str, float] = {}
    for name, stage in PIPELINE:
        t0 = time.time()
        stage(cfg)
        timings[f"seconds_{name}"] = round(time.time() - t0, 2)
    path = score.run(cfg, extra=timings)
    result = json.loads(path.read_text())
    result["seconds_total"] = round(time.time() - t_start, 2)
    atomic_write_json(path, result)
    logger.info("[demo] PER %.1f%%, boundary F1 %.3f, %.0f s total -> %s (curves: %s)", 100 * result["per"],
                result.get("boundary_f1", float("nan")), result["seconds_total"], path,
                RunPaths(Path(cfg.out)).learn(cfg.learner.name) / "curves.png")
    return path
