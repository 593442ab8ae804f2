"""Training loop of ``sawv``: fit the boundary policy and the segment autoencoder on unlabelled utterances.

No transcripts or alignments are read: the only signals are the reconstruction error and the
segment rate (see :mod:`segmentation.sawv.objective`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from segmentation.sawv.config import SawvConfig
from segmentation.sawv.model import SawvModel
from segmentation.sawv.objective import batch_objective

logger = logging.getLogger(__name__)

BUCKET_BATCHES = 50
"""Batches per length-sorted bucket: utterances of similar length share a batch (less padding)."""


@dataclass
class FitHistory:
    """Per-epoch means of the training statistics."""

    recon_loss: list[float] = field(default_factory=list)
    """Mean per-frame reconstruction error (standardised MSE)."""
    sampled_rate: list[float] = field(default_factory=list)
    """Segments per second of the sampled segmentations."""
    mode_rate: list[float] = field(default_factory=list)
    """Segments per second of the deterministic segmentation ``p > 0.5`` (what inference outputs)."""
    penalty: list[float] = field(default_factory=list)
    """λ at the end of the epoch."""
    seconds: float = 0.0
    """Wall-clock training time."""


def feature_stats(feats: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and standard deviation ``(D,)`` over all frames of ``feats[i] (T_i, D)``."""
    total = np.zeros(feats[0].shape[1], dtype=np.float64)
    sq = np.zeros_like(total)
    count = 0
    for f in feats:
        f64 = np.asarray(f, dtype=np.float64)
        total += f64.sum(0)
        sq += (f64**2).sum(0)
        count += f64.shape[0]
    mean = total / count
    std = np.sqrt(np.maximum(sq / count - mean**2, 0.0))
    return mean.astype(np.float32), np.maximum(std, 1e-5).astype(np.float32)


def make_batches(lens: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of utterance indices, each drawn from a length-sorted bucket."""
    order = rng.permutation(len(lens))
    batches = []
    for i in range(0, len(order), batch_size * BUCKET_BATCHES):
        bucket = order[i : i + batch_size * BUCKET_BATCHES]
        bucket = bucket[np.argsort(lens[bucket], kind="stable")]
        batches += [bucket[j : j + batch_size] for j in range(0, len(bucket), batch_size)]
    return [batches[k] for k in rng.permutation(len(batches))]


def pad(feats: Sequence[np.ndarray], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad ``feats[i] (T_i, D)`` into ``(B, T, D)`` (zeros beyond each length) and a ``(B, T)`` bool mask."""
    t_max = max(f.shape[0] for f in feats)
    x = np.zeros((len(feats), t_max, feats[0].shape[1]), dtype=np.float32)
    mask = np.zeros((len(feats), t_max), dtype=bool)
    for i, f in enumerate(feats):
        x[i, : f.shape[0]] = f
        mask[i, : f.shape[0]] = True
    return torch.from_numpy(x).to(device), torch.from_numpy(mask).to(device)


def fit_model(model: SawvModel, feats: Sequence[np.ndarray], cfg: SawvConfig) -> FitHistory:
    """Train ``model`` in place on standardised utterances ``feats[i] (T_i, D)`` (float32)."""
    device = cfg.resolved_device()
    model.to(device).train()
    rng = np.random.default_rng(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    lens = np.asarray([f.shape[0] for f in feats])
    log_penalty = math.log(cfg.segment_penalty)
    target = cfg.target_per_frame
    per_s = 1.0 / cfg.frame_shift_s
    hist = FitHistory()
    t0 = time.monotonic()
    steps_per_epoch = math.ceil(len(feats) / cfg.batch_size)
    bar = tqdm(total=cfg.epochs * steps_per_epoch, desc="sawv", unit="upd", leave=False)
    out_of_time = False
    step = 0
    for epoch in range(cfg.epochs):
        sums = np.zeros(4)  # recon * frames, sampled segments, mode segments, frames
        for idx in make_batches(lens, cfg.batch_size, rng):
            x, mask = pad([feats[i] for i in idx], device)
            obj = batch_objective(model, x, mask, math.exp(log_penalty), cfg.max_segment_frames, generator)
            warm = step < cfg.warmup_updates
            optimizer.zero_grad(set_to_none=True)
            (obj.recon_loss if warm else obj.recon_loss + obj.policy_loss).backward()
            optimizer.step()
            step += 1
            rate = obj.num_segments / obj.num_frames
            if target > 0 and step == cfg.warmup_updates and obj.gains.numel():
                # calibrate λ: the target fraction of decisions gains more than λ from a boundary
                log_penalty = math.log(max(float(torch.quantile(obj.gains, 1.0 - target)), 1e-6))
            elif target > 0 and not warm:  # dual ascent: more segments than the target -> a dearer segment
                log_penalty += cfg.penalty_lr * (rate - target) / target
            sums += [obj.recon_loss.item() * obj.num_frames, obj.num_segments, obj.num_mode_segments, obj.num_frames]
            bar.update(1)
            bar.set_postfix(recon=f"{obj.recon_loss.item():.3f}", seg_s=f"{rate * per_s:.1f}",
                            lam=f"{math.exp(log_penalty):.3g}")
            if cfg.max_seconds and time.monotonic() - t0 > cfg.max_seconds:
                out_of_time = True
                break
        if sums[3] == 0:
            break
        hist.recon_loss.append(sums[0] / sums[3])
        hist.sampled_rate.append(sums[1] / sums[3] * per_s)
        hist.mode_rate.append(sums[2] / sums[3] * per_s)
        hist.penalty.append(math.exp(log_penalty))
        logger.info("[sawv] epoch %d: recon %.4f, sampled %.2f seg/s, p>0.5 %.2f seg/s, λ %.4g (%.0f s)",
                    epoch + 1, hist.recon_loss[-1], hist.sampled_rate[-1], hist.mode_rate[-1], hist.penalty[-1],
                    time.monotonic() - t0)
        if out_of_time:
            logger.info("[sawv] stopped after %d epochs: max_seconds=%g reached", epoch + 1, cfg.max_seconds)
            break
    bar.close()
    model.eval()
    hist.seconds = time.monotonic() - t0
    return hist
