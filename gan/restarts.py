"""Best of several seeds: train independent GANs and keep the one the *unsupervised* score prefers.

Adversarial training fails on some seeds (the generator settles on a wrong mapping it cannot leave);
the weighted-LM-perplexity selection score separates such runs clearly from good ones (on the
decipherment benchmark: about 200-400 against 15-30), without labels. :func:`train_gan_seeds`
runs ``cfg.num_seeds`` runs one after the other under ``out_dir/seed<N>/`` (each resumes and
completes like any :func:`gan.train_gan` run, with ``max_seconds / num_seeds`` of wall clock),
then copies the winner's ``best.pt`` to ``out_dir/best.pt`` and records the choice in
``out_dir/seeds.json``.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

import numpy as np

from gan.checkpoint import BEST
from gan.config import GanConfig
from gan.trainer import EvalHook, SelectScore, TrainResult, train_gan
from unsup_asr.io import atomic_write, atomic_write_json

logger = logging.getLogger(__name__)


def train_gan_seeds(
    cfg: GanConfig,
    train: list[np.ndarray],
    text: list[np.ndarray],
    vocab: list[str],
    out_dir: Path,
    *,
    valid: list[np.ndarray],
    select_score: SelectScore,
    eval_hook: EvalHook | None = None,
    init_generator: Path | None = None,
) -> TrainResult:
    """Run :func:`gan.train_gan` for seeds ``cfg.seed .. cfg.seed + cfg.num_seeds - 1``.

    Returns the result of the run with the lowest selection score, with ``best_checkpoint`` at
    ``out_dir/best.pt`` and ``seconds`` / ``num_updates_done`` summed over all runs. With
    ``num_seeds == 1`` this is exactly ``train_gan(cfg, ..., out_dir)``. ``init_generator`` (a
    ``best.pt``) is passed to every run: each starts its generator from those weights.
    """
    cfg.validate()
    if cfg.num_seeds == 1:
        return train_gan(cfg, train, text, vocab, out_dir, valid=valid, select_score=select_score, eval_hook=eval_hook,
                         init_generator=init_generator)
    runs: dict[int, TrainResult] = {}
    for i in range(cfg.num_seeds):
        sub = dataclasses.replace(cfg, seed=cfg.seed + i, num_seeds=1, max_seconds=cfg.max_seconds / cfg.num_seeds)
        logger.info("GAN run %d/%d (seed %d)", i + 1, cfg.num_seeds, sub.seed)
        runs[sub.seed] = train_gan(
            sub, train, text, vocab, out_dir / f"seed{sub.seed}", valid=valid, select_score=select_score,
            eval_hook=eval_hook, init_generator=init_generator,
        )
    seed, best = min(runs.items(), key=lambda kv: kv[1].best_score)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / BEST, lambda tmp: shutil.copyfile(best.best_checkpoint, tmp))
    summary = {
        "selected_seed": seed,
        "rule": "lowest unsupervised selection score (weighted LM perplexity on unlabelled valid audio)",
        "runs": {
            str(s): {"best_score": r.best_score, "best_step": r.best_step, "updates": r.num_updates_done,
                     "seconds": r.seconds}
            for s, r in runs.items()
        },
    }
    atomic_write_json(out_dir / "seeds.json", summary)
    logger.info(
        "GAN: kept seed %d of %s (selection scores %s)",
        seed, list(runs), ", ".join(f"{r.best_score:.4g}" for r in runs.values()),
    )
    return dataclasses.replace(
        best,
        best_checkpoint=out_dir / BEST,
        seconds=sum(r.seconds for r in runs.values()),
        num_updates_done=sum(r.num_updates_done for r in runs.values()),
    )
