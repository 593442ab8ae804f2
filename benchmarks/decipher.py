"""Decipherment benchmark: does the GAN learn a phone mapping from unpaired data alone?

Generates the synthetic task of :mod:`gan.synthetic` (gold phone segments whose features identify
the phone only up to an unknown permutation plus noise; unpaired text from the same phone LM),
trains :func:`gan.restarts.train_gan_seeds` (``num_seeds`` GAN runs sharing a wall-clock limit)
with checkpoint and seed selection by wav2vec-U's weighted LM perplexity (a KenLM phone 4-gram
built from the unpaired text; no labels), and reports the PER of the selected checkpoint on the
labelled test set, plus two references: the trivial baseline (the most frequent text phone
repeated to the reference length) and the same generator trained with the training labels
(diagnostic ceiling).

Usage::

    python benchmarks/decipher.py --out benchmarks/results/decipher.json
    python benchmarks/decipher.py --set ema_decay=0 --set generator.num_clusters=0   # ablations
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from gan.checkpoint import load_generator
from gan.config import GanConfig
from gan.generator import predict_log_probs
from gan.restarts import train_gan_seeds
from gan.supervised import train_supervised
from gan.synthetic import SIL, DecipherConfig, DecipherTask, make_decipher_task
from unsup_asr.config import with_overrides
from unsup_asr.decode.viterbi import decode_one
from unsup_asr.io import atomic_write_json, atomic_write_text
from unsup_asr.metrics.edit import error_rate
from unsup_asr.metrics.unsupervised import weighted_lm_ppl
from unsup_asr.text.lm import KenLM, build_lm

logger = logging.getLogger("decipher")


def phone_error_rate(task: DecipherTask, feats: list[np.ndarray], labels: list[np.ndarray], model: Any) -> float:
    """PER of ``model``'s greedy decoding of ``feats`` against the phones of ``labels``."""
    hyps = [decode_one(lp, task.vocab) for lp in predict_log_probs(model, feats)]
    return error_rate([task.ids_to_phones(y) for y in labels], hyps).rate


def run_decipher(task: DecipherTask, cfg: GanConfig, work: Path, *, ceiling_updates: int = 0) -> dict[str, Any]:
    """Train on ``task`` with label-free selection; return the figures (PER as fractions).

    Builds the phone 4-gram from ``task.text`` under ``work/lm``, trains under ``work/gan``
    (resuming or returning a finished run found there), and evaluates the selected checkpoint on
    the test set. Validation PER is logged for analysis only; it never influences selection.
    """
    lines = "".join(" ".join(task.ids_to_phones(t, drop_silence=False)) + "\n" for t in task.text)
    text_path = atomic_write_text(work / "lm" / "text.txt", lines)
    lm = KenLM(build_lm(text_path, work / "lm" / "phones4", order=4))

    def select_score(hyps: list[list[str]]) -> float:
        return weighted_lm_ppl(hyps, lm, vocab=task.vocab).weighted_lm_ppl

    valid_refs = [task.ids_to_phones(y) for y in task.valid_labels]

    def log_valid_per(step: int, hyps: list[list[str]]) -> dict[str, float]:
        return {"eval/valid_per_labelled_analysis_only": error_rate(valid_refs, hyps).rate}

    result = train_gan_seeds(
        cfg,
        task.train,
        task.text,
        task.vocab,
        work / "gan",
        valid=task.valid,
        select_score=select_score,
        eval_hook=log_valid_per,
    )
    evals = [r for r in result.history if "eval/select_score" in r]
    counts = np.bincount(np.concatenate(task.text), minlength=len(task.vocab))
    counts[task.vocab.index(SIL)] = 0
    top = task.vocab[int(counts.argmax())]
    refs = [task.ids_to_phones(y) for y in task.test_labels]
    figures: dict[str, Any] = {
        "per_selected": phone_error_rate(task, task.test, task.test_labels, load_generator(result.best_checkpoint)),
        "per_trivial_baseline": error_rate(refs, [[top] * len(r) for r in refs]).rate,
        "valid_per_best_seen_analysis_only": min(r["eval/valid_per_labelled_analysis_only"] for r in evals),
        "selected_step": result.best_step,
        "selected_score": result.best_score,
        "seconds": result.seconds,
        "updates": result.num_updates_done,
        "updates_per_second": result.num_updates_done / max(result.seconds, 1e-9),
        "seeds": json.loads(seeds.read_text()) if (seeds := work / "gan" / "seeds.json").is_file() else None,
        "curve": [[r["step"], r["eval/valid_per_labelled_analysis_only"], r["eval/select_score"]] for r in evals],
    }
    if ceiling_updates:
        sup = train_supervised(
            cfg, task.train, task.train_labels, task.vocab, num_updates=ceiling_updates, seed=cfg.seed
        )
        figures["per_supervised_ceiling"] = phone_error_rate(task, task.test, task.test_labels, sup)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/decipher.json"), help="JSON output")
    parser.add_argument("--work-dir", default="benchmarks/results/decipher_run", help="scratch folder (wiped)")
    parser.add_argument("--seed", type=int, default=0, help="GAN seed")
    parser.add_argument("--task-seed", type=int, default=0, help="seed of the synthetic task")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="wall-clock limit of GAN training")
    parser.add_argument("--ceiling", type=int, default=2000, help="supervised ceiling updates (0: skip)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--set", action="append", default=[], help="GanConfig override key=value (repeatable)")
    parser.add_argument("--task", action="append", default=[], help="DecipherConfig override key=value")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    task_cfg = with_overrides(DecipherConfig(seed=args.task_seed), args.task)
    cfg = with_overrides(GanConfig(seed=args.seed, max_seconds=args.max_seconds), args.set)
    cfg.validate()
    work = Path(args.work_dir)
    shutil.rmtree(work, ignore_errors=True)
    figures = run_decipher(make_decipher_task(task_cfg), cfg, work, ceiling_updates=args.ceiling)
    figures |= {"target_per": 0.10, "config": dataclasses.asdict(cfg), "task": dataclasses.asdict(task_cfg)}
    atomic_write_json(args.out, figures)
    summary = {k: v for k, v in figures.items() if k not in ("config", "task", "curve")}
    logger.info("decipherment: %s", json.dumps(summary))
    logger.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
