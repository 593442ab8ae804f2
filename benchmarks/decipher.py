"""Decipherment benchmark: does a learner learn a phone mapping from unpaired data alone?

Generates the synthetic task of :mod:`gan.synthetic` (gold phone segments whose features identify
the phone only up to an unknown permutation plus noise; unpaired text from the same phone LM),
trains any registered learner (``--learner gan`` or ``--learner match``) through the
:class:`~gan.learner.Learner` interface, with its own label-free selection (for the GAN: wav2vec-U's
weighted LM perplexity under a KenLM phone 4-gram of the unpaired text), and reports the PER of
the selected model on the labelled test set, plus references: the trivial baseline (the most
frequent text phone repeated to the reference length), the lowest validation PER among all the
checkpoints the learner evaluated (labels used for analysis only) and, optionally, the same
generator trained with the training labels (diagnostic ceiling).

Usage::

    python benchmarks/decipher.py --out benchmarks/results/decipher.json                  # the GAN
    python benchmarks/decipher.py --learner match --out benchmarks/results/decipher_match.json
    python benchmarks/decipher.py --set ema_decay=0 --set generator.num_clusters=0       # GAN ablations
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from gan.config import GanConfig
from gan.learner import LEARNERS, LearnerInputs, build_learner
from gan.match.config import MatchConfig
from gan.phone_model import load_phone_model, predict_log_probs
from gan.supervised import train_supervised
from gan.synthetic import SIL, DecipherConfig, DecipherTask, make_decipher_task
from unsup_asr.config import with_overrides
from unsup_asr.decode.viterbi import decode_one
from unsup_asr.io import atomic_write_json, atomic_write_text
from unsup_asr.metrics.edit import error_rate
from unsup_asr.metrics.unsupervised import weighted_lm_ppl
from unsup_asr.text.lm import KenLM, build_lm

logger = logging.getLogger("decipher")

DEFAULTS: dict[str, Any] = {
    "gan": GanConfig(),
    # The synthetic audio has one segment per phone *and* per silence, exactly as the text does,
    # so the text keeps its silences here (the demo's real segments have almost none: silence=remove).
    "match": MatchConfig(silence="keep", num_clusters=64),
}
"""Each learner's benchmark config before ``--set`` overrides."""


def phone_error_rate(task: DecipherTask, feats: list[np.ndarray], labels: list[np.ndarray], model: Any) -> float:
    """PER of ``model``'s greedy decoding of ``feats`` against the phones of ``labels``."""
    hyps = [decode_one(lp, task.vocab) for lp in predict_log_probs(model, feats)]
    return error_rate([task.ids_to_phones(y) for y in labels], hyps).rate


def run_decipher(task: DecipherTask, cfg: Any, work: Path, *, ceiling_updates: int = 0) -> dict[str, Any]:
    """Train the learner configured by ``cfg`` on ``task`` with label-free selection; return the
    figures (PER as fractions).

    Builds the phone 4-gram from ``task.text`` under ``work/lm``, trains under ``work/<learner>``
    (resuming or returning a finished run found there), and evaluates the selected model on the
    test set. Validation PER of every candidate is computed for analysis only; it never influences
    selection.
    """
    lines = "".join(" ".join(task.ids_to_phones(t, drop_silence=False)) + "\n" for t in task.text)
    text_path = atomic_write_text(work / "lm" / "text.txt", lines)
    lm = KenLM(build_lm(text_path, work / "lm" / "phones4", order=4))

    def select_score(hyps: list[list[str]]) -> float:
        return weighted_lm_ppl(hyps, lm, vocab=task.vocab).weighted_lm_ppl

    t0 = time.time()
    out_dir = work / cfg.name
    inputs = LearnerInputs(train=task.train, valid=task.valid, text=task.text, vocab=task.vocab,
                           select_score=select_score)
    result = build_learner(cfg).fit(inputs, out_dir)
    seconds = time.time() - t0
    valid_per = {c.tag: phone_error_rate(task, task.valid, task.valid_labels, load_phone_model(out_dir / c.checkpoint))
                 for c in result.candidates}
    counts = np.bincount(np.concatenate(task.text), minlength=len(task.vocab))
    counts[task.vocab.index(SIL)] = 0
    top = task.vocab[int(counts.argmax())]
    refs = [task.ids_to_phones(y) for y in task.test_labels]
    figures: dict[str, Any] = {
        "learner": cfg.name,
        "per_selected": phone_error_rate(task, task.test, task.test_labels, load_phone_model(result.checkpoint)),
        "per_trivial_baseline": error_rate(refs, [[top] * len(r) for r in refs]).rate,
        "valid_per_best_seen_analysis_only": min(valid_per.values()) if valid_per else None,
        "selection_rule": result.rule,
        "selected_score": result.score,
        "seconds": seconds,
        "info": result.info,
        "candidates": [{"tag": c.tag, "scores": c.scores, "valid_per_analysis_only": valid_per[c.tag]}
                       for c in result.candidates],
    }
    if ceiling_updates:
        sup = train_supervised(GanConfig(), task.train, task.train_labels, task.vocab, num_updates=ceiling_updates,
                               seed=0, lr=3e-3)
        figures["per_supervised_ceiling"] = phone_error_rate(task, task.test, task.test_labels, sup)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learner", default="gan", choices=LEARNERS.names(), help="registered learner")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/decipher.json"), help="JSON output")
    parser.add_argument("--work-dir", default="benchmarks/results/decipher_run", help="scratch folder (wiped)")
    parser.add_argument("--seed", type=int, default=0, help="learner seed")
    parser.add_argument("--task-seed", type=int, default=0, help="seed of the synthetic task")
    parser.add_argument("--max-seconds", type=float, default=0.0,
                        help="GAN only: a wall-clock safety cap (0: none; the budget is GanConfig.num_updates)")
    parser.add_argument("--ceiling", type=int, default=2000, help="supervised ceiling updates (0: skip)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--set", action="append", default=[], help="learner config override key=value (repeatable)")
    parser.add_argument("--task", action="append", default=[], help="DecipherConfig override key=value")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    task_cfg = with_overrides(DecipherConfig(seed=args.task_seed), args.task)
    base = DEFAULTS.get(args.learner) or LEARNERS.get(args.learner).config()
    base = dataclasses.replace(base, seed=args.seed)
    if args.learner == "gan":
        base = dataclasses.replace(base, max_seconds=args.max_seconds)
    cfg = with_overrides(base, args.set)
    cfg.validate()
    work = Path(args.work_dir)
    shutil.rmtree(work, ignore_errors=True)
    figures = run_decipher(make_decipher_task(task_cfg), cfg, work, ceiling_updates=args.ceiling)
    figures |= {"target_per": 0.10, "config": dataclasses.asdict(cfg), "task": dataclasses.asdict(task_cfg)}
    atomic_write_json(args.out, figures)
    summary = {k: v for k, v in figures.items() if k not in ("config", "task", "candidates")}
    logger.info("decipherment: %s", json.dumps(summary))
    logger.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
