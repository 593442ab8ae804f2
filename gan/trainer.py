"""Adversarial training of the generator against the discriminator, with unsupervised selection.

Read :func:`train_gan` top to bottom: each update is either a discriminator step or a generator
step (``discriminator_steps`` of the first, then ``generator_steps`` of the second, repeated);
every ``eval_every`` updates the generator decodes the unlabelled ``valid`` set and
``select_score`` (lower is better, e.g. weighted LM perplexity) decides whether it becomes
``best.pt``; every ``checkpoint_every`` updates ``last.pt`` is saved, and a run finds and resumes
it. Metrics are averaged over ``log_every`` updates into ``history`` (``losses/*``, ``charts/*``,
``eval/*``) and written to ``history.jsonl`` and ``curves.png``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from gan import losses
from gan.checkpoint import BEST, LAST, TrainingState, load_last, save_best, save_last
from gan.config import GanConfig
from gan.data import bigram, check_features, check_text, one_hot_text, pad_features, sample_batch, unigram
from gan.discriminator import Discriminator
from gan.generator import SIL, Generator, argmax_hypotheses, kmeans_init, predict_log_probs
from gan.plot import plot_curves
from unsup_asr.io import atomic_write_text, is_done, mark_done

logger = logging.getLogger(__name__)

SelectScore = Callable[[list[list[str]]], float]
EvalHook = Callable[[int, list[list[str]]], dict[str, float]]


@dataclass(kw_only=True)
class TrainResult:
    """Outcome of :func:`train_gan`."""

    best_checkpoint: Path
    """``best.pt``: the generator with the lowest selection score on ``valid``."""
    best_step: int
    """Update count at which ``best.pt`` was saved."""
    best_score: float
    """Its selection score (lower is better)."""
    history: list[dict[str, float]]
    """Logged records (``step``, ``losses/*``, ``charts/*``, ``eval/*``)."""
    seconds: float
    """Wall-clock training seconds, summed over resumed runs."""
    num_updates_done: int
    """Updates done (fewer than ``num_updates`` when ``max_seconds`` stopped training)."""


def to_discriminator(probs: torch.Tensor, padding_mask: torch.Tensor, straight_through: bool) -> torch.Tensor:
    """What the discriminator sees of the generator's ``probs`` ``(B,S,V)``: zeros at padding, and
    with ``straight_through`` one-hot argmax values carrying the softmax's gradient."""
    if straight_through:
        hard = torch.nn.functional.one_hot(probs.argmax(-1), probs.shape[-1]).to(probs.dtype)
        probs = hard + probs - probs.detach()
    return probs.masked_fill(padding_mask.unsqueeze(-1), 0.0)


def discriminator_step(
    gen: Generator, disc: Discriminator, opt: torch.optim.Optimizer, cfg: GanConfig,
    feats: tuple[torch.Tensor, torch.Tensor], real: tuple[torch.Tensor, torch.Tensor],
) -> dict[str, float]:
    """One discriminator update: real text -> 1, generator output (no gradient to G) -> 0."""
    with torch.no_grad():
        fake = to_discriminator(gen(*feats).softmax(-1), feats[1], cfg.straight_through)
    d_real, d_fake = disc(*real), disc(fake, feats[1])
    loss_d = losses.discriminator_loss(d_real, d_fake, cfg.loss)
    loss_gp = losses.gradient_penalty(disc, real[0], real[1], fake, feats[1]) if cfg.gradient_penalty else None
    opt.zero_grad(set_to_none=True)
    (loss_d + cfg.gradient_penalty * loss_gp if loss_gp is not None else loss_d).backward()
    opt.step()
    logs = {"losses/d": loss_d.item(), "charts/d_real_acc": (d_real > 0).float().mean().item(),
            "charts/d_fake_acc": (d_fake < 0).float().mean().item()}
    return logs | ({"losses/gp": loss_gp.item()} if loss_gp is not None else {})


def generator_step(
    gen: Generator, disc: Discriminator, opt: torch.optim.Optimizer, cfg: GanConfig,
    feats: tuple[torch.Tensor, torch.Tensor], text_stats: tuple[torch.Tensor, torch.Tensor], step: int,
) -> dict[str, float]:
    """One generator update: fool the discriminator, plus the code/smoothness/unigram terms."""
    logits = gen(*feats)
    probs = logits.softmax(-1)
    fake = to_discriminator(probs, feats[1], cfg.straight_through)
    loss_adv = losses.generator_loss(disc(fake, feats[1]), cfg.loss)
    terms = {
        "code": (cfg.code_penalty_at(step), losses.code_penalty(probs, feats[1])),
        "smooth": (cfg.smoothness_weight, losses.smoothness_penalty(logits, feats[1])),
        "entropy": (cfg.entropy_weight, losses.segment_entropy(probs, feats[1])),
        "unigram": (cfg.unigram_weight, losses.unigram_kl(fake, feats[1], text_stats[0])),
        "bigram": (cfg.bigram_weight, losses.bigram_kl(probs, feats[1], text_stats[1])),
    }
    opt.zero_grad(set_to_none=True)
    (loss_adv + sum(w * v for w, v in terms.values() if w)).backward()
    opt.step()
    used = probs.argmax(-1)[~feats[1]].unique().numel() / probs.shape[-1]
    return ({"losses/g": loss_adv.item(), "charts/vocab_usage": used}
            | {f"losses/{k}": v.item() for k, (_, v) in terms.items()})


def _accumulate(state: TrainingState, logs: dict[str, float]) -> None:
    for key, value in logs.items():
        acc = state.pending.setdefault(key, [0.0, 0.0])
        acc[0] += value
        acc[1] += 1


def _flush(state: TrainingState) -> None:
    state.history.append({"step": float(state.step)} | {k: s / n for k, (s, n) in state.pending.items()})
    state.pending.clear()


def train_gan(
    cfg: GanConfig, train: list[np.ndarray], text: list[np.ndarray], vocab: list[str], out_dir: Path, *,
    valid: list[np.ndarray], select_score: SelectScore, eval_hook: EvalHook | None = None,
) -> TrainResult:
    """Train a generator on segment features ``train`` (``(S_i, D)`` arrays) against unpaired
    phone-id sentences ``text``; select ``best.pt`` by ``select_score`` of ``valid`` decodings.

    ``eval_hook(step, valid_hypotheses)`` may return extra ``eval/*`` metrics to log (e.g. PER
    where labels exist; it never influences selection). Resumes from ``out_dir/last.pt``; if
    ``out_dir/.done`` exists, returns the stored result without training.
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
    gen = Generator(cfg.generator, dim, vocab).to(device)
    disc = Discriminator(cfg.discriminator, len(vocab)).to(device)
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg.lr_generator, betas=cfg.betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr_discriminator, betas=cfg.betas)
    rng = np.random.default_rng(cfg.seed)
    if cfg.generator.kmeans_init:
        kmeans_init(gen, train, np.random.default_rng(cfg.seed))
    state = TrainingState()
    if (out_dir / LAST).is_file():
        state = load_last(out_dir / LAST, gen=gen, disc=disc, opt_g=opt_g, opt_d=opt_d, rng=rng)
        logger.info("Resuming GAN training from %s at update %d", out_dir / LAST, state.step)
    text_stats = (torch.tensor(unigram(text, len(vocab)), dtype=torch.float32, device=device),
                  torch.tensor(bigram(text, len(vocab)), dtype=torch.float32, device=device))
    start, start_seconds = time.monotonic(), state.seconds

    def evaluate() -> None:
        hyps = argmax_hypotheses(predict_log_probs(gen, valid), vocab)
        score = float(select_score(hyps))
        extra = eval_hook(state.step, hyps) if eval_hook else {}
        state.history.append({"step": float(state.step), "eval/select_score": score} | extra)
        if score < state.best_score:
            state.best_step, state.best_score = state.step, score
            save_best(out_dir / BEST, gen=gen, cfg=cfg, step=state.step, score=score)

    gen.train()
    disc.train()
    if state.step == 0:
        evaluate()
    for step in tqdm(range(state.step, cfg.num_updates), desc="gan", initial=state.step, total=cfg.num_updates):
        state.seconds = start_seconds + time.monotonic() - start
        if cfg.max_seconds and state.seconds >= cfg.max_seconds:
            logger.info("GAN training stopped by max_seconds=%.0f at update %d", cfg.max_seconds, step)
            break
        feats = pad_features(sample_batch(train, cfg.batch_size, rng), device)
        if cfg.is_discriminator_step(step):
            real = one_hot_text(sample_batch(text, cfg.batch_size, rng), len(vocab), device)
            logs = discriminator_step(gen, disc, opt_d, cfg, feats, real)
        else:
            logs = generator_step(gen, disc, opt_g, cfg, feats, text_stats, step)
        state.step = step + 1
        _accumulate(state, logs)
        if state.step % cfg.log_every == 0:
            _flush(state)
        if state.step % cfg.eval_every == 0:
            evaluate()
        if state.step % cfg.checkpoint_every == 0:
            save_last(out_dir / LAST, gen=gen, disc=disc, opt_g=opt_g, opt_d=opt_d, state=state, rng=rng)
    if max((r["step"] for r in state.history if "eval/select_score" in r), default=-1.0) != state.step:
        evaluate()
    state.seconds = start_seconds + time.monotonic() - start
    save_last(out_dir / LAST, gen=gen, disc=disc, opt_g=opt_g, opt_d=opt_d, state=state, rng=rng)
    return _finish(out_dir, state)


def _finish(out_dir: Path, state: TrainingState) -> TrainResult:
    """Write ``history.jsonl``, ``curves.png`` and the ``.done`` marker; build the result."""
    atomic_write_text(out_dir / "history.jsonl", "".join(json.dumps(r) + "\n" for r in state.history))
    plot_curves(state.history, out_dir / "curves.png")
    info = {"best_step": state.best_step, "best_score": state.best_score, "seconds": state.seconds,
            "num_updates_done": state.step}
    mark_done(out_dir, info)
    logger.info("GAN done: %d updates in %.0f s, best step %d (score %.4g)", state.step, state.seconds,
                state.best_step, state.best_score)
    return TrainResult(best_checkpoint=out_dir / BEST, history=state.history, **info)


def _stored_result(out_dir: Path) -> TrainResult:
    """The result of a finished run, read from ``.done`` and ``history.jsonl``."""
    info = json.loads((out_dir / ".done").read_text(encoding="utf-8"))
    lines = (out_dir / "history.jsonl").read_text(encoding="utf-8").splitlines()
    return TrainResult(best_checkpoint=out_dir / BEST, history=[json.loads(x) for x in lines if x], **info)
