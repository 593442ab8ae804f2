"""Adversarial training of the generator against the discriminator, with unsupervised selection.

Read :func:`train_gan` top to bottom: each update is either a discriminator step or a generator
step (``discriminator_steps`` of the first, then ``generator_steps`` of the second, repeated);
every ``eval_every`` updates the (EMA) generator decodes the unlabelled ``valid`` set and
``select_score`` (lower is better, e.g. weighted LM perplexity) decides whether it becomes
``best.pt``; every ``checkpoint_every`` updates ``last.pt`` is saved, and a new run finds and
resumes it. Metrics are averaged over ``log_every`` updates into ``history`` (``losses/*``,
``charts/*``; evaluations add ``eval/*``), written to ``history.jsonl`` and ``curves.png``.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from gan import losses
from gan.checkpoint import BEST, LAST, TrainingState, load_generator, load_last, save_best, save_last
from gan.config import GanConfig
from gan.data import check_features, check_text, one_hot_text, pad_features, sample_batch
from gan.discriminator import Discriminator
from gan.generator import SIL, Generator, fit_clusters, predict_log_probs
from gan.plot import plot_curves
from unsup_asr.decode.viterbi import decode_one
from unsup_asr.io import atomic_write_text, is_done, mark_done

logger = logging.getLogger(__name__)

CANDIDATE_DIR = "candidates"
"""Every evaluated (EMA) generator is kept here, so that the score stage can check the selection rule."""
SelectScore = Callable[[list[list[str]]], float]
EvalHook = Callable[[int, list[list[str]]], dict[str, float]]
Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass(kw_only=True)
class TrainResult:
    """Outcome of :func:`train_gan`."""

    best_checkpoint: Path
    """``best.pt``: the generator with the lowest selection score on ``valid``."""
    best_step: int
    """Update count at which ``best.pt`` was saved (0: before any update)."""
    best_score: float
    """Its selection score (lower is better)."""
    history: list[dict[str, float]]
    """Logged records (``step``, ``losses/*``, ``charts/*``, ``eval/*``)."""
    seconds: float
    """Wall-clock training seconds, summed over resumed runs."""
    num_updates_done: int
    """Updates done (fewer than ``num_updates`` when ``max_seconds`` stopped training)."""


def candidate_name(step: int) -> str:
    """File name of the generator evaluated at update ``step``."""
    return f"step{step:07d}.pt"


def to_discriminator(probs: torch.Tensor, padding_mask: torch.Tensor, straight_through: bool) -> torch.Tensor:
    """What the discriminator sees of the generator's ``probs`` ``(B,S,V)``: zeros at padding, and
    with ``straight_through`` one-hot argmax values that carry the softmax's gradient."""
    if straight_through:
        hard = torch.nn.functional.one_hot(probs.argmax(-1), probs.shape[-1]).to(probs.dtype)
        probs = hard + probs - probs.detach()
    return probs.masked_fill(padding_mask.unsqueeze(-1), 0.0)


def discriminator_step(
    gen: Generator, disc: Discriminator, opt: torch.optim.Optimizer, cfg: GanConfig, feats: Batch, real: Batch
) -> dict[str, float]:
    """One discriminator update: real text -> 1, generator output (no gradient to G) -> 0."""
    with torch.no_grad():
        fake = to_discriminator(gen(*feats).softmax(-1), feats[1], cfg.straight_through)
    d_real, d_fake = disc(*real), disc(fake, feats[1])
    loss = loss_d = losses.discriminator_loss(d_real, d_fake)
    logs = {
        "losses/d": loss_d.item(),
        "charts/d_real_acc": (d_real > 0).float().mean().item(),
        "charts/d_fake_acc": (d_fake < 0).float().mean().item(),
    }
    if cfg.gradient_penalty:
        loss_gp = losses.gradient_penalty(disc, real[0], real[1], fake, feats[1])
        loss = loss_d + cfg.gradient_penalty * loss_gp
        logs["losses/gp"] = loss_gp.item()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return logs


def generator_step(
    gen: Generator, disc: Discriminator, opt: torch.optim.Optimizer, cfg: GanConfig, feats: Batch, step: int
) -> dict[str, float]:
    """One generator update: fool the discriminator, plus the code and smoothness penalties."""
    logits = gen(*feats)
    probs = logits.softmax(-1)
    loss_g = losses.generator_loss(disc(to_discriminator(probs, feats[1], cfg.straight_through), feats[1]))
    loss_code = losses.code_penalty(probs, feats[1])
    loss_smooth = losses.smoothness_penalty(logits, feats[1])
    opt.zero_grad(set_to_none=True)
    (loss_g + cfg.code_penalty_at(step) * loss_code + cfg.smoothness_weight * loss_smooth).backward()
    opt.step()
    keep = ~feats[1]
    entropy = -(probs * probs.clamp_min(1e-8).log()).sum(-1)[keep].mean()
    return {
        "losses/g": loss_g.item(),
        "losses/code": loss_code.item(),
        "losses/smooth": loss_smooth.item(),
        "charts/g_entropy": entropy.item(),
        "charts/vocab_usage": probs.argmax(-1)[keep].unique().numel() / probs.shape[-1],
    }


@torch.no_grad()
def update_ema(ema: Generator, gen: Generator, decay: float) -> None:
    """``ema <- decay * ema + (1 - decay) * gen`` for every parameter (a plain copy when decay is 0)."""
    for e, p in zip(ema.parameters(), gen.parameters(), strict=True):
        e.lerp_(p, 1.0 - decay)


def train_gan(
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
    """Train a generator on segment features ``train`` (``(S_i, D)`` arrays) against unpaired
    phone-id sentences ``text`` (ids into ``vocab``); keep as ``best.pt`` the generator whose
    decoding of ``valid`` gets the lowest ``select_score``.

    ``eval_hook(step, valid_hypotheses)`` may return extra ``eval/*`` metrics to log (e.g. a PER
    where labels exist); it never influences selection. ``init_generator`` (a ``best.pt``) starts
    the generator (and its EMA) from that checkpoint's weights instead of a fresh initialisation;
    the discriminator still starts afresh. Resumes from ``out_dir/last.pt``; if ``out_dir/.done``
    exists, returns the stored result without training.
    """
    cfg.validate()
    out_dir = Path(out_dir)
    if is_done(out_dir):
        return _stored_result(out_dir)
    if SIL not in vocab:
        raise ValueError(f"vocab has no {SIL!r} token: the text preparation must insert silences")
    dim = check_features("train", train)
    if check_features("valid", valid) != dim:
        raise ValueError("valid and train features have different dimensions: use the same feature pipeline")
    check_text(text, len(vocab))
    out_dir.mkdir(parents=True, exist_ok=True)
    device = cfg.resolved_device()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gen = Generator(cfg.generator, dim, vocab)
    fit_clusters(gen, train, rng)
    if init_generator is not None:
        _load_initial_generator(gen, Path(init_generator))
    gen = gen.to(device)
    gen_ema = copy.deepcopy(gen).requires_grad_(False)
    disc = Discriminator(cfg.discriminator, len(vocab)).to(device)
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg.lr_generator, betas=cfg.betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr_discriminator, betas=cfg.betas)
    models: dict[str, Any] = {"gen": gen, "gen_ema": gen_ema, "disc": disc, "opt_g": opt_g, "opt_d": opt_d}
    state = TrainingState()
    if (out_dir / LAST).is_file():
        state = load_last(out_dir / LAST, rng=rng, **models)
        logger.info("Resuming GAN training from %s at update %d", out_dir / LAST, state.step)
    start, start_seconds = time.monotonic(), state.seconds

    def evaluate() -> None:
        model = gen_ema if cfg.ema_decay else gen
        hyps = [decode_one(lp, vocab) for lp in predict_log_probs(model, valid)]
        score = float(select_score(hyps))
        extra = eval_hook(state.step, hyps) if eval_hook else {}
        state.history.append({"step": float(state.step), "eval/select_score": score} | extra)
        save_best(out_dir / CANDIDATE_DIR / candidate_name(state.step), gen=model, cfg=cfg, step=state.step,
                  score=score)
        if score < state.best_score:
            state.best_step, state.best_score = state.step, score
            save_best(out_dir / BEST, gen=model, cfg=cfg, step=state.step, score=score)

    if state.step == 0:
        evaluate()
    for step in tqdm(range(state.step, cfg.num_updates), desc="gan", initial=state.step, total=cfg.num_updates):
        state.seconds = start_seconds + time.monotonic() - start
        if cfg.max_seconds and state.seconds >= cfg.max_seconds:
            logger.info("GAN training stopped by max_seconds=%.0f at update %d", cfg.max_seconds, step)
            break
        gen.train()
        disc.train()
        feats = pad_features(sample_batch(train, cfg.batch_size, rng), device)
        if cfg.is_discriminator_step(step):
            real = one_hot_text(sample_batch(text, cfg.batch_size, rng), len(vocab), device)
            logs = discriminator_step(gen, disc, opt_d, cfg, feats, real)
        else:
            logs = generator_step(gen, disc, opt_g, cfg, feats, step)
            update_ema(gen_ema, gen, cfg.ema_decay)
        state.step = step + 1
        state.accumulate(logs)
        if state.step % cfg.log_every == 0:
            state.flush()
        if state.step % cfg.eval_every == 0:
            evaluate()
        if state.step % cfg.checkpoint_every == 0:
            save_last(out_dir / LAST, state=state, rng=rng, **models)
    if state.last_eval_step() != state.step:
        evaluate()
    state.seconds = start_seconds + time.monotonic() - start
    save_last(out_dir / LAST, state=state, rng=rng, **models)
    return _finish(out_dir, state)


def _load_initial_generator(gen: Generator, path: Path) -> None:
    """Copy the weights (and cluster centroids) of the ``best.pt`` at ``path`` into ``gen``."""
    init = load_generator(path)
    if init.input_dim != gen.input_dim or init.vocab != gen.vocab or init.cfg != gen.cfg:
        raise ValueError(
            f"cannot initialise the generator from {path}: it has input dim {init.input_dim}, "
            f"{len(init.vocab)} phones and {init.cfg}, but training needs input dim {gen.input_dim}, "
            f"{len(gen.vocab)} phones and {gen.cfg}; use segments and text of the same pipeline"
        )
    gen.load_state_dict(init.state_dict())


def _finish(out_dir: Path, state: TrainingState) -> TrainResult:
    """Write ``history.jsonl``, ``curves.png`` and the ``.done`` marker; build the result."""
    atomic_write_text(out_dir / "history.jsonl", "".join(json.dumps(r) + "\n" for r in state.history))
    plot_curves(state.history, out_dir / "curves.png")
    info: dict[str, Any] = {
        "best_step": state.best_step,
        "best_score": state.best_score,
        "seconds": state.seconds,
        "num_updates_done": state.step,
    }
    mark_done(out_dir, info)
    logger.info(
        "GAN done: %d updates in %.0f s, best step %d (score %.4g)",
        state.step,
        state.seconds,
        state.best_step,
        state.best_score,
    )
    return TrainResult(best_checkpoint=out_dir / BEST, history=state.history, **info)


def _stored_result(out_dir: Path) -> TrainResult:
    """The result of a finished run, read from ``.done`` and ``history.jsonl``."""
    info = json.loads((out_dir / ".done").read_text(encoding="utf-8"))
    lines = (out_dir / "history.jsonl").read_text(encoding="utf-8").splitlines()
    return TrainResult(best_checkpoint=out_dir / BEST, history=[json.loads(x) for x in lines if x], **info)
