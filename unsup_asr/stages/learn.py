"""Stage 4: learn the segment -> phone map without labels (``learner=NAME``) -> ``out/exp/learn/<name>/``.

The configured learner (:mod:`gan.learner`; ``gan``, ``match`` or a plug-in) gets the segment
embeddings of the unlabelled ``train`` and ``valid`` splits, the phonemised unpaired text and the
label-free score (wav2vec-U's weighted LM perplexity under the text's phone LM), and writes the
phone model it selects to ``best.pt`` with every candidate it evaluated (``candidates.jsonl``).
No transcript is read by this stage. ``uasr train_gan`` is the old name of this stage.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from gan.learner import LearnerInputs, LearnResult, build_learner
from unsup_asr.config import RunConfig
from unsup_asr.io import DONE, atomic_write_json
from unsup_asr.metrics.unsupervised import weighted_lm_ppl
from unsup_asr.paths import RunPaths
from unsup_asr.stages.common import read_text_ids, read_vocab
from unsup_asr.stages.prepare_text import SIL, lm_path
from unsup_asr.stages.segment import load_segments, segments_path
from unsup_asr.text.lm import KenLM

logger = logging.getLogger(__name__)


def run(cfg: RunConfig) -> Path:
    """Train ``cfg.learner`` on the run's segments; returns the selected phone model's path."""
    cfg.learner.validate()
    t0 = time.time()
    train = load_segments(segments_path(cfg, cfg.splits.train)).embeddings
    valid = load_segments(segments_path(cfg, cfg.splits.valid)).embeddings
    out_dir = learner_dir(cfg)
    clear_if_stale(out_dir, learner_inputs_record(cfg))
    result = fit(cfg, cfg.learner, train, valid, out_dir)
    logger.info("[learn] %s: selected %s (label-free score %.4g) -> %s (%.1f s)", cfg.learner.name,
                result.info.get("selected", result.checkpoint.name), result.score, result.checkpoint,
                time.time() - t0)
    return result.checkpoint


def learner_dir(cfg: RunConfig) -> Path:
    """``out/exp/learn/<learner name>/``."""
    return RunPaths(Path(cfg.out)).learn(cfg.learner.name)


def select_score_fn(cfg: RunConfig, vocab: list[str]) -> Any:
    """The label-free score of hypotheses: weighted LM perplexity under the unpaired text's phone LM."""
    lm = KenLM(lm_path(RunPaths(Path(cfg.out)).text, cfg.text.lm_order))
    phones = [p for p in vocab if p != SIL]

    def score(hyps: list[list[str]]) -> float:
        """Unsupervised: LM perplexity of the outputs / vocabulary usage^2. No labels."""
        return weighted_lm_ppl(hyps, lm, vocab=phones).weighted_lm_ppl

    return score


def fit(cfg: RunConfig, learner_cfg: Any, train: list[np.ndarray], valid: list[np.ndarray], out_dir: Path, *,
        init: Path | None = None) -> LearnResult:
    """Train the learner ``learner_cfg`` on segment embeddings ``train``/``valid`` against the run's
    unpaired text into ``out_dir`` (``init``: a phone model to start from) and record the result."""
    text_dir = RunPaths(Path(cfg.out)).text
    vocab = read_vocab(text_dir)
    inputs = LearnerInputs(train=train, valid=valid, text=read_text_ids(text_dir, vocab), vocab=vocab,
                           select_score=select_score_fn(cfg, vocab), init=init)
    result = build_learner(learner_cfg).fit(inputs, out_dir)
    atomic_write_json(out_dir / "selection.json", {
        "learner": learner_cfg.name, "rule": result.rule, "score": result.score, "checkpoint": result.checkpoint.name,
        "info": result.info, "num_candidates": len(result.candidates)})
    return result


def learner_inputs_record(cfg: RunConfig) -> dict[str, Any]:
    """What the learner folder was trained from: its config and the completion records of the
    segments and the text it read (they change whenever those stages re-ran differently)."""
    paths = RunPaths(Path(cfg.out))
    seg_done = segments_path(cfg, cfg.splits.train).parent / DONE
    return {
        "learner": asdict(cfg.learner),
        "segments": json.loads(seg_done.read_text(encoding="utf-8")),
        "text": json.loads((paths.text / DONE).read_text(encoding="utf-8")),
    }


def clear_if_stale(folder: Path, inputs: dict[str, Any]) -> None:
    """Delete ``folder`` when it holds a learner trained from other inputs; then record ``inputs``."""
    record = folder / "inputs.json"
    if folder.exists() and (not record.is_file() or json.loads(record.read_text()) != json.loads(json.dumps(inputs))):
        logger.warning("[learn] %s was trained with other settings or inputs: starting afresh", folder)
        shutil.rmtree(folder)
    atomic_write_json(record, inputs)
