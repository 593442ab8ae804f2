"""Training objective of ``sawv``: reconstruction + λ · segments, boundary policy by exact local marginalisation.

For one sampled segmentation ``b`` of a batch the cost is

    cost(b) = sum over segments s of [ recon(s) + λ ],

where ``recon(s)`` sums, over the segment's frames, the mean squared error of the decoder's
reconstruction from the segment embedding (standardised features, so an error of 1 is "as bad as
predicting the mean"). This is the paper's reward with its sign flipped (Wang et al. 2018:
reward = -reconstruction error - λ · number of segments).

**Autoencoder** (frame encoder, segment encoder, decoder): plain backprop of the mean per-frame
reconstruction error of the sampled segments.

**Boundary policy**: policy gradient, as the paper, but with the REINFORCE estimator replaced by
*local expectation gradients* (Titsias & Lázaro-Gredilla, NeurIPS 2015). The policy is factorised
(``b_t ~ Bernoulli(p_t)`` independently given the features) and the cost is a sum of per-segment
terms in which a segment depends only on its own frames. Flipping ``b_t`` therefore changes only
the segments touching frames ``t - 1`` and ``t`` (one segment is split in two, or two are merged),
so the expectation over ``b_t`` given the other sampled decisions is computed *exactly* by scoring
both alternatives:

    d E[cost] / d p_t = Δ_t = cost(b_t = 1) - cost(b_t = 0)
                            = λ - [recon(merged) - recon(left) - recon(right)],

and the surrogate loss ``sum_t p_t · Δ_t`` (Δ detached) has that gradient. This is an unbiased
policy gradient with far less variance than REINFORCE with one scalar reward per utterance, at
the price of decoding every counterfactual span (about ten times the frames of the batch, without
gradients). We prefer it to a straight-through Gumbel / hard-concrete relaxation because the
segment embedding is a pooling over hard segment extents, which is not a differentiable function
of the gates; straight-through gradients through such a pooling are biased, and soft (fractional)
segment assignments let the autoencoder pass information through partial boundaries that do not
exist at inference. We also tried a preconditioned variant (``|Δ_t|``-weighted cross-entropy towards
``Δ_t < 0``, the same fixed point without the ``p(1 - p)`` factor): it settles in an equilibrium where
neighbouring frames share one boundary's probability (each below 0.5), so the deterministic output
had half the target rate on the demo corpus (about 6 instead of 12.5 segments per second); the
exact gradient above does not show this.

**Segment rate**: a raw count penalty collapses easily to all boundaries or none, since the
reconstruction gain of a boundary changes as the autoencoder learns. λ is instead adapted by dual
ascent towards a target rate of the sampled segmentations, ``log λ += η (rate - target) / target``
(see :class:`~segmentation.sawv.config.SawvConfig`): a boundary is worth placing where it reduces the
reconstruction error by more than λ, and λ settles where that happens at the target rate.

Decisions whose flip is not representable are left out of the policy loss: frames that start an
utterance (always a boundary), boundaries forced by ``max_segment_frames``, and merges that would
exceed ``max_segment_frames``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from segmentation.sawv.model import SawvModel
from segmentation.sawv.spans import cap_runs, expand, segments


@dataclass
class BatchObjective:
    """Losses and statistics of one sampled segmentation of a batch."""

    recon_loss: torch.Tensor
    """Scalar: mean per-frame reconstruction error of the sampled segments (with gradients)."""
    policy_loss: torch.Tensor
    """Scalar surrogate ``sum_t p_t Δ_t / N`` (gradients reach the boundary logits only)."""
    num_segments: int
    """Segments in the sampled segmentation (forced ones included)."""
    num_frames: int
    """Valid frames N of the batch."""
    num_mode_segments: int
    """Segments of the deterministic segmentation ``p_t > 0.5`` (what inference uses)."""
    gains: torch.Tensor
    """``(K,)`` reconstruction gain ``λ - Δ_t`` of a boundary, for the K decisions with a representable flip."""


def sample_bounds(
    logits: torch.Tensor, utt_start: torch.Tensor, max_frames: int, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample segment starts ``(N,)`` from flat ``logits (N,)``; returns ``(bounds, forced)``."""
    probs = torch.sigmoid(logits.detach())
    u = torch.rand(probs.shape, generator=generator, device="cpu").to(probs.device)
    return cap_runs((u < probs) | utt_start, max_frames)


def flip_deltas(
    model: SawvModel,
    x: torch.Tensor,
    z: torch.Tensor,
    bounds: torch.Tensor,
    forced: torch.Tensor,
    utt_start: torch.Tensor,
    seg_costs: torch.Tensor,
    penalty: float,
    max_frames: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``Δ_t = cost(b_t = 1) - cost(b_t = 0)`` for every flat frame, the others held at ``bounds``.

    Args:
        x: ``(N, D)`` standardised flat frames; ``z``: ``(N, H)`` their codes (no gradients needed).
        bounds, forced, utt_start: ``(N,)`` bool sampled starts, cap-forced starts, utterance starts.
        seg_costs: ``(S,)`` reconstruction cost of each sampled segment.
        penalty: λ, the cost of one segment.
        max_frames: longest allowed segment (merges beyond it are not representable).

    Returns:
        ``(delta (N,) float, valid (N,) bool)``; ``delta`` is 0 where ``valid`` is False.
    """
    starts, lens, seg_of = segments(bounds)
    n = bounds.shape[0]
    offset = torch.arange(n, device=bounds.device) - starts[seg_of]
    delta = torch.zeros(n, dtype=seg_costs.dtype, device=seg_costs.device)
    # b_t = 0 now: cost(b_t = 1) splits segment s at t into [start_s, t) and [t, end_s).
    inner = torch.nonzero(~bounds).squeeze(1)
    s_in = seg_of[inner]
    split_starts = torch.cat([starts[s_in], inner])
    split_lens = torch.cat([offset[inner], lens[s_in] - offset[inner]])
    split_cost, _ = model.span_costs(x, z, expand(split_starts, split_lens))
    k = inner.shape[0]
    delta[inner] = split_cost[:k] + split_cost[k:] - seg_costs[s_in] + penalty
    # b_t = 1 now: cost(b_t = 0) merges segments s - 1 and s.
    cand = torch.nonzero(bounds & ~utt_start & ~forced).squeeze(1)
    s_b = seg_of[cand]
    merged_lens = lens[s_b - 1] + lens[s_b]
    ok = merged_lens <= max_frames
    cand, s_b, merged_lens = cand[ok], s_b[ok], merged_lens[ok]
    merge_cost, _ = model.span_costs(x, z, expand(starts[s_b - 1], merged_lens))
    delta[cand] = seg_costs[s_b - 1] + seg_costs[s_b] - merge_cost + penalty
    valid = ~bounds
    valid[cand] = True
    return delta, valid


def batch_objective(
    model: SawvModel,
    x: torch.Tensor,
    mask: torch.Tensor,
    penalty: float,
    max_frames: int,
    generator: torch.Generator | None = None,
) -> BatchObjective:
    """Sample one segmentation of the padded batch ``x (B, T, D)`` (valid frames ``mask (B, T)``) and
    return its reconstruction loss and the policy surrogate loss."""
    logits = model.boundary_logits(x, mask)[mask]  # (N,), row-major: utterances stay contiguous
    flat = x[mask]
    lens = mask.sum(1)
    utt_start = torch.zeros(flat.shape[0], dtype=torch.bool, device=x.device)
    utt_start[torch.cumsum(lens, 0) - lens] = True
    bounds, forced = sample_bounds(logits, utt_start, max_frames, generator)
    z = model.frame_codes(flat)
    starts, seg_lens, _ = segments(bounds)
    seg_costs, frame_err = model.span_costs(flat, z, expand(starts, seg_lens))
    with torch.no_grad():
        delta, valid = flip_deltas(model, flat, z.detach(), bounds, forced, utt_start, seg_costs.detach(), penalty,
                                   max_frames)
        mode, _ = cap_runs((logits > 0) | utt_start, max_frames)
    policy_loss = (torch.sigmoid(logits) * delta * valid).sum() / flat.shape[0]
    return BatchObjective(
        recon_loss=frame_err.mean(),
        policy_loss=policy_loss,
        num_segments=int(starts.shape[0]),
        num_frames=int(flat.shape[0]),
        num_mode_segments=int(mode.sum()),
        gains=penalty - delta[valid],
    )
