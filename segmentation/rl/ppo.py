"""Training of the boundary policy: behaviour cloning, then clipped policy gradient (PPO-style).

Read :func:`train_policy` top to bottom. It standardizes the input features, clones the previous
segmentation's boundaries (:func:`behaviour_cloning`), then repeats, in cleanrl's order:

1. :func:`collect`: run the policy once on ``batch_size`` training utterances and sample
   ``samples_per_utterance`` segmentations of each from its per-frame Bernoulli distributions;
   the scorer transcribes all of them with the fixed generator in one batch and returns rewards;
2. :func:`advantages`: each sample's reward minus the mean reward of the other samples of the
   same utterance (leave-one-out baseline), divided by the batch's standard deviation;
3. :func:`update`: ``update_epochs`` steps of PPO's clipped surrogate plus an entropy bonus (one
   epoch = REINFORCE with a baseline, since the probability ratio is then exactly 1).

An episode is one utterance (:class:`~segmentation.rl.env.BoundaryEnv` is the same problem as a
gymnasium environment); the batched path asks the same scorer for its rewards, so the two agree.
Metrics are averaged over ``log_every`` updates into records with ``losses/*`` and ``charts/*`` keys.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from tqdm import tqdm

from gan.data import pad_features
from segmentation.rl.config import RlConfig
from segmentation.rl.policy import (
    BoundaryPolicy,
    bc_loss,
    entropy,
    free_frames,
    greedy_boundaries,
    log_prob,
    sample_boundaries,
)
from segmentation.rl.reward import RewardTerms

logger = logging.getLogger(__name__)


class BatchScorer(Protocol):
    """Rewards of boundaries ``(B, T)`` bool for utterances ``indices`` (a :class:`RewardScorer`)."""

    def score(self, indices: Sequence[int], boundaries: torch.Tensor) -> RewardTerms: ...


@dataclass
class Rollout:
    """One batch of episodes: ``B`` utterances, ``K`` sampled segmentations each (row ``b * K + k``)."""

    indices: list[int]
    """``(B,)`` utterance indices."""
    feats: torch.Tensor
    """``(B, T, D)`` padded frame features."""
    valid: torch.Tensor
    """``(B, T)`` bool, True on real frames."""
    actions: torch.Tensor
    """``(B*K, T)`` bool sampled boundaries."""
    log_probs: torch.Tensor
    """``(B*K,)`` their log-probabilities under the collecting policy (nats)."""
    rewards: torch.Tensor
    """``(B*K,)`` float32 rewards."""
    terms: RewardTerms
    """The rewards' terms, for logging."""


@dataclass(kw_only=True)
class PolicyResult:
    """Outcome of :func:`train_policy`."""

    history: list[dict[str, float]] = field(default_factory=list)
    """Logged records (``step``, ``losses/*``, ``charts/*``)."""
    bc_agreement_f1: float = 0.0
    """Frame-exact F1 of the cloned policy's deterministic boundaries against the cloned ones."""
    updates: int = 0
    """Policy-gradient updates done."""
    seconds_bc: float = 0.0
    """Wall-clock seconds of behaviour cloning."""
    seconds_rl: float = 0.0
    """Wall-clock seconds of the policy-gradient phase."""


def pad_boundaries(bounds: Sequence[np.ndarray], length: int, device: torch.device) -> torch.Tensor:
    """Pad ``(T_i,)`` bool arrays to ``(B, length)`` bool (False on padding)."""
    out = np.zeros((len(bounds), length), dtype=bool)
    for i, b in enumerate(bounds):
        out[i, : len(b)] = b
    return torch.from_numpy(out).to(device)


def agreement_f1(policy: BoundaryPolicy, feats: Sequence[np.ndarray], targets: Sequence[np.ndarray],
                 threshold: float, device: torch.device, batch_size: int = 64) -> float:
    """Frame-exact F1 of the policy's deterministic boundaries against ``targets`` (free frames only)."""
    hits = predicted = wanted = 0
    with torch.no_grad():
        for start in range(0, len(feats), batch_size):
            x, pad = pad_features(list(feats[start : start + batch_size]), device)
            valid = ~pad
            pred = greedy_boundaries(policy(x, valid), valid, threshold) & free_frames(valid)
            gold = pad_boundaries(targets[start : start + batch_size], x.shape[1], device) & free_frames(valid)
            hits += int((pred & gold).sum())
            predicted += int(pred.sum())
            wanted += int(gold.sum())
    return 2 * hits / max(predicted + wanted, 1)


def behaviour_cloning(policy: BoundaryPolicy, feats: Sequence[np.ndarray], targets: Sequence[np.ndarray],
                      cfg: RlConfig, device: torch.device, rng: np.random.Generator) -> float:
    """Fit the policy to boundaries ``targets`` (``(T_i,)`` bool) by cross-entropy; returns the last epoch's loss.

    The output bias starts at the log-odds of the targets' boundary rate (free frames), so cloning
    starts from the right number of boundaries. With ``cfg.bc_epochs == 0`` the policy is left as it is."""
    if not cfg.bc_epochs:
        return float("nan")
    rate = sum(float(t[1:].sum()) for t in targets) / max(sum(len(t) - 1 for t in targets), 1)
    rate = min(max(rate, 1e-3), 1 - 1e-3)
    if policy.out.bias is not None:  # always true (the output layer has a bias); narrows the type
        with torch.no_grad():
            policy.out.bias.fill_(float(np.log(rate / (1 - rate))))
    opt = torch.optim.Adam(policy.parameters(), lr=cfg.bc_lr)
    policy.train()
    epoch_loss = float("nan")
    for epoch in tqdm(range(cfg.bc_epochs), desc="rl: behaviour cloning", unit="epoch", leave=False):
        order = rng.permutation(len(feats))
        losses = []
        for start in range(0, len(order), cfg.bc_batch_size):
            batch = order[start : start + cfg.bc_batch_size]
            x, pad = pad_features([feats[i] for i in batch], device)
            loss = bc_loss(policy(x, ~pad), pad_boundaries([targets[i] for i in batch], x.shape[1], device), ~pad)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
            opt.step()
            losses.append(loss.item())
        epoch_loss = float(np.mean(losses))
        logger.debug("behaviour cloning epoch %d: loss %.4f", epoch, epoch_loss)
    return epoch_loss


@torch.no_grad()
def collect(policy: BoundaryPolicy, feats: Sequence[np.ndarray], indices: Sequence[int], scorer: BatchScorer,
            samples: int, device: torch.device, generator: torch.Generator) -> Rollout:
    """Sample ``samples`` segmentations of each utterance ``indices`` and score them all in one batch."""
    policy.eval()
    x, pad = pad_features([feats[i] for i in indices], device)
    valid = ~pad
    logits = policy(x, valid).repeat_interleave(samples, 0)
    valid_k = valid.repeat_interleave(samples, 0)
    actions = sample_boundaries(logits, valid_k, generator)
    rows = [i for i in indices for _ in range(samples)]
    terms = scorer.score(rows, actions)
    return Rollout(indices=list(indices), feats=x, valid=valid, actions=actions,
                   log_probs=log_prob(logits, actions, valid_k),
                   rewards=torch.as_tensor(terms.reward, dtype=torch.float32, device=device), terms=terms)


def advantages(rewards: torch.Tensor, samples: int) -> torch.Tensor:
    """Leave-one-out advantages ``(B*K,)`` of rewards ``(B*K,)`` (``K = samples`` per utterance, adjacent),
    divided by their standard deviation; with ``K = 1`` the baseline is the batch mean."""
    if samples > 1:
        r = rewards.view(-1, samples)
        adv = (r - (r.sum(1, keepdim=True) - r) / (samples - 1)).reshape(-1)
    else:
        adv = rewards - rewards.mean()
    return adv / (adv.std() + 1e-8) if adv.numel() > 1 else adv


def update(policy: BoundaryPolicy, opt: torch.optim.Optimizer, rollout: Rollout, adv: torch.Tensor,
           cfg: RlConfig) -> dict[str, float]:
    """``cfg.update_epochs`` gradient steps of the clipped surrogate minus ``entropy_coef`` x entropy."""
    policy.train()
    samples = rollout.actions.shape[0] // len(rollout.indices)
    valid_k = rollout.valid.repeat_interleave(samples, 0)
    logs: dict[str, float] = {}
    for _ in range(cfg.update_epochs):
        logits = policy(rollout.feats, rollout.valid)
        new_log_probs = log_prob(logits.repeat_interleave(samples, 0), rollout.actions, valid_k)
        log_ratio = (new_log_probs - rollout.log_probs).clamp(max=20.0)
        ratio = log_ratio.exp()
        loss_pg = -torch.min(ratio * adv, ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef) * adv).mean()
        ent = entropy(logits, rollout.valid).mean()
        opt.zero_grad(set_to_none=True)
        (loss_pg - cfg.entropy_coef * ent).backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
        opt.step()
        with torch.no_grad():
            logs = {
                "losses/policy": loss_pg.item(),
                "losses/approx_kl": ((ratio - 1) - log_ratio).mean().item(),
                "charts/clipfrac": ((ratio - 1).abs() > cfg.clip_coef).float().mean().item(),
                "charts/entropy": ent.item(),
            }
    return logs


def train_policy(cfg: RlConfig, policy: BoundaryPolicy, feats: Sequence[np.ndarray], targets: Sequence[np.ndarray],
                 scorer: BatchScorer, *, device: torch.device, seed: int) -> PolicyResult:
    """Behaviour cloning on ``targets`` (``(T_i,)`` bool per utterance of ``feats``), then at most
    ``cfg.rl_updates`` policy-gradient updates (or ``cfg.rl_max_seconds``) against ``scorer``."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    sampler = torch.Generator().manual_seed(seed)
    result = PolicyResult()
    policy.set_standardization(feats)
    policy.to(device)

    t0 = time.monotonic()
    bc_final = behaviour_cloning(policy, feats, targets, cfg, device, rng)
    result.bc_agreement_f1 = agreement_f1(policy, feats, targets, cfg.threshold, device)
    result.seconds_bc = time.monotonic() - t0
    result.history.append({"step": 0.0, "losses/bc": bc_final, "charts/bc_agreement_f1": result.bc_agreement_f1})
    logger.info("[rl] behaviour cloning: %d epochs, loss %.4f, boundary agreement F1 %.3f (%.0f s)",
                cfg.bc_epochs, bc_final, result.bc_agreement_f1, result.seconds_bc)

    t0 = time.monotonic()
    opt = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    pending: dict[str, list[float]] = {}
    batch_size = min(cfg.batch_size, len(feats))
    for step in tqdm(range(cfg.rl_updates), desc="rl: policy gradient", unit="update", leave=False):
        if cfg.rl_max_seconds and time.monotonic() - t0 >= cfg.rl_max_seconds:
            logger.info("[rl] policy gradient stopped by rl_max_seconds=%.0f at update %d", cfg.rl_max_seconds, step)
            break
        indices = rng.choice(len(feats), size=batch_size, replace=False).tolist()
        rollout = collect(policy, feats, indices, scorer, cfg.samples_per_utterance, device, sampler)
        logs = update(policy, opt, rollout, advantages(rollout.rewards, cfg.samples_per_utterance), cfg)
        logs |= {
            "charts/reward": float(rollout.terms.reward.mean()),
            "charts/ppl_term": float(rollout.terms.ppl_term.mean()),
            "charts/edit_term": float(rollout.terms.edit_term.mean()),
            "charts/length_term": float(rollout.terms.length_term.mean()),
            "charts/boundaries_per_frame": float(rollout.actions.sum())
            / (float(rollout.valid.sum()) * cfg.samples_per_utterance),
        }
        for key, value in logs.items():
            pending.setdefault(key, []).append(value)
        result.updates = step + 1
        if result.updates % cfg.log_every == 0:
            result.history.append({"step": float(result.updates)} | {k: float(np.mean(v)) for k, v in pending.items()})
            pending.clear()
    if pending:
        result.history.append({"step": float(result.updates)} | {k: float(np.mean(v)) for k, v in pending.items()})
    result.seconds_rl = time.monotonic() - t0
    last = result.history[-1]
    logger.info("[rl] policy gradient: %d updates, last mean reward %.4f, entropy %.3f (%.0f s)", result.updates,
                last.get("charts/reward", float("nan")), last.get("charts/entropy", float("nan")), result.seconds_rl)
    policy.eval()
    return result
