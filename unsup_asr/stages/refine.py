"""``uasr refine``: boundary refinement by the self-trained frame model (Chen et al. 2019's loop).

Starts from a finished run whose self-training ends with a frame student. For ``i = 1 ..
refine.iterations``, in ``out/refine/iter<i>/`` (whose ``data`` and ``exp/features`` link to the
run's):

1. **segment** with ``segmenter=aligned``: the previous frame model's LM-decoded path labels every
   frame, and segments start where the label changes (:mod:`segmentation.aligned`);
2. **learn** the run's learner afresh on the new segments, then **self-train** with the run's
   students, then **decode** and **score**, exactly as a run does.

No transcript is used for any decision. ``out/refine/summary.json`` lists, per iteration (0 = the
run itself), the label-free score of the final model (weighted LM perplexity of its Viterbi output
on ``valid``) and, **for evaluation only**, PER, boundary F1 and the learning check. Finished
iterations are skipped on re-runs (each stage's own markers).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from gan.phone_model import load_phone_model
from segmentation.aligned import AlignedConfig
from unsup_asr.config import RunConfig, with_overrides
from unsup_asr.io import atomic_write_json
from unsup_asr.paths import RunPaths
from unsup_asr.stages.common import model_path
from unsup_asr.stages.prepare_text import lm_path
from unsup_asr.sweep.run import link_shared, run_pipeline, selection_score

logger = logging.getLogger(__name__)


def run(cfg: RunConfig) -> Path:
    rcfg = cfg.refine
    rcfg.validate()
    paths = RunPaths(Path(cfg.out))
    if not paths.score.is_file():
        raise FileNotFoundError(f"refine starts from a finished run: run `uasr all` (or demo) on {paths.out} first")
    start = model_path(cfg)
    if not cfg.self_train.students or cfg.self_train.students[-1] != "frame" or load_phone_model(start).unit != "frame":
        raise ValueError("refine needs a frame model: end self_train.students with a frame student, e.g. "
                         "'self_train.students=[segment,segment,frame,frame]', and re-run the pipeline")
    root = paths.out / "refine"
    summary: dict[str, Any] = {"note": "evaluation_only figures use labels and are never used for any decision",
                               "iterations": [_record(cfg, 0)]}
    prev_model = start
    for i in range(1, rcfg.iterations + 1):
        job = root / f"iter{i}"
        link_shared(job, paths.out)
        segmenter = AlignedConfig(model=str(prev_model.resolve()),
                                  lm=str(lm_path(paths.text, cfg.self_train.lm_order).resolve()),
                                  lm_weight=rcfg.lm_weight, min_frames=rcfg.min_frames, pca_dim=rcfg.pca_dim)
        job_cfg = with_overrides(dataclasses.replace(cfg, out=str(job), segmenter=segmenter), rcfg.overrides)
        job_cfg.validate()
        logger.info("[refine] iteration %d: segments from %s", i, prev_model)
        run_pipeline(job_cfg)
        summary["iterations"].append(_record(job_cfg, i))
        atomic_write_json(root / "summary.json", summary)
        prev_model = model_path(job_cfg)
        if load_phone_model(prev_model).unit != "frame":
            raise ValueError(f"iteration {i}'s final model is not a frame model: keep a frame student last")
    atomic_write_json(root / "summary.json", summary)
    for rec in summary["iterations"]:
        ev = rec["evaluation_only"]
        logger.info("[refine] iteration %d: valid weighted LM ppl %.4g | EVALUATION ONLY: PER %.1f%%, boundary F1 "
                    "%s", rec["iteration"], rec["valid_weighted_lm_ppl"], 100 * ev["per"], ev.get("boundary_f1"))
    return root / "summary.json"


def _record(cfg: RunConfig, iteration: int) -> dict[str, Any]:
    score = json.loads(RunPaths(Path(cfg.out)).score.read_text(encoding="utf-8"))
    check = score.get("learning_check", {})
    return {
        "iteration": iteration, "out": cfg.out, "valid_weighted_lm_ppl": selection_score(cfg),
        "evaluation_only": {"per": score["per"], "per_phone_lm": score.get("per_phone_lm"),
                            "boundary_f1": score.get("boundary_f1"), "segments_per_second": score.get(
                                "segments_per_second"), "accuracy_model": check.get("accuracy_model")},
    }
