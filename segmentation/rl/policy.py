"""The boundary policy: a small CNN over standardized frame features -> per-frame Bernoulli logits.

Shapes: ``feats (B, T, D)`` float32 frame features (20 ms frames), ``valid (B, T)`` bool (True on
real frames, False on padding), ``logits (B, T)``, actions/boundaries ``(B, T)`` bool (True where a
frame starts a segment). Frame 0 always starts a segment: it is not sampled and does not count
in log-probabilities or entropies; only the *free* frames (``valid`` and ``t > 0``) do.

Padding never changes a valid frame's logit: every layer's output is zeroed on padding, so the
'same' zero padding of each convolution sees exactly what it sees on the utterance alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from segmentation.rl.config import PolicyConfig
from segmentation.rl.projection import FrameProjection
from unsup_asr.io import atomic_write


class BoundaryPolicy(nn.Module):
    """Standardize frames, ``num_layers`` Conv1d + ReLU layers, a width-1 Conv1d to one logit per frame."""

    feat_mean: torch.Tensor
    feat_std: torch.Tensor

    def __init__(self, cfg: PolicyConfig, input_dim: int) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.input_dim = input_dim
        self.register_buffer("feat_mean", torch.zeros(input_dim))
        self.register_buffer("feat_std", torch.ones(input_dim))
        dims = [input_dim] + [cfg.hidden] * cfg.num_layers
        self.hidden = nn.ModuleList(
            nn.Conv1d(a, b, cfg.kernel_size, padding=cfg.kernel_size // 2) for a, b in itertools.pairwise(dims)
        )
        self.out = nn.Conv1d(cfg.hidden, 1, 1)

    @torch.no_grad()
    def set_standardization(self, feats: Sequence[np.ndarray]) -> None:
        """Per-dimension mean and standard deviation over all frames of ``feats`` (``(T_i, D)`` arrays)."""
        frames = np.concatenate([np.asarray(f, np.float64) for f in feats])
        self.feat_mean.copy_(torch.from_numpy(frames.mean(0)))
        self.feat_std.copy_(torch.from_numpy(np.maximum(frames.std(0), 1e-5)))

    def forward(self, feats: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Boundary logits ``(B, T)`` of ``feats (B, T, D)``; 0 on padding."""
        keep = valid.unsqueeze(1).to(feats.dtype)
        x = ((feats - self.feat_mean) / self.feat_std).transpose(1, 2) * keep
        for conv in self.hidden:
            x = F.relu(conv(x)) * keep
        logits: torch.Tensor = self.out(x).squeeze(1)
        return logits.masked_fill(~valid, 0.0)


def free_frames(valid: torch.Tensor) -> torch.Tensor:
    """``(B, T)`` bool: the frames whose boundary the policy decides (valid, not frame 0)."""
    free = valid.clone()
    free[:, 0] = False
    return free


def _with_first(bounds: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``bounds`` on free frames, True on frame 0 of every non-empty utterance."""
    out = bounds & free_frames(valid)
    out[:, 0] = valid[:, 0]
    return out


def sample_boundaries(
    logits: torch.Tensor, valid: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw boundaries ``(B, T)`` bool from the per-frame Bernoulli distributions."""
    device = generator.device if generator is not None else logits.device
    u = torch.rand(logits.shape, generator=generator, device=device).to(logits.device)
    return _with_first(u < torch.sigmoid(logits), valid)


def greedy_boundaries(logits: torch.Tensor, valid: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Deterministic boundaries ``(B, T)`` bool: probability above ``threshold``."""
    return _with_first(torch.sigmoid(logits) > threshold, valid)


def log_prob(logits: torch.Tensor, actions: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Log-probability ``(B,)`` (nats) of the boundaries ``actions (B, T)``, summed over free frames."""
    per_frame = -F.binary_cross_entropy_with_logits(logits, actions.to(logits.dtype), reduction="none")
    return (per_frame * free_frames(valid)).sum(1)


def entropy(logits: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean Bernoulli entropy per free frame ``(B,)`` (nats; 0 for a one-frame utterance)."""
    p = torch.sigmoid(logits)
    per_frame = p * F.softplus(-logits) + (1 - p) * F.softplus(logits)
    free = free_frames(valid)
    return (per_frame * free).sum(1) / free.sum(1).clamp_min(1)


def bc_loss(logits: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Behaviour cloning: mean binary cross-entropy over free frames against target boundaries ``(B, T)``."""
    free = free_frames(valid)
    per_frame = F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype), reduction="none")
    return (per_frame * free).sum() / free.sum().clamp_min(1)


def save_policy(path: Path, policy: BoundaryPolicy, projection: FrameProjection) -> None:
    """Write the policy and the frame projection of its segment embeddings to ``path`` (atomically)."""
    payload: dict[str, Any] = {
        "policy_config": asdict(policy.cfg),
        "input_dim": policy.input_dim,
        "state_dict": {k: v.detach().cpu() for k, v in policy.state_dict().items()},
        "projection": projection.state(),
    }
    atomic_write(path, lambda p: torch.save(payload, p))


def load_policy(path: Path, map_location: str = "cpu") -> tuple[BoundaryPolicy, FrameProjection]:
    """The policy (eval mode) and frame projection written by :func:`save_policy`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"policy {path} not found: train one with `uasr rl-iterate` "
                                "(it writes out/exp/rl/iter<i>/policy.pt)")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if "policy_config" not in payload:
        raise ValueError(f"{path} is not a boundary policy written by segmentation.rl.policy.save_policy")
    policy = BoundaryPolicy(PolicyConfig(**payload["policy_config"]), int(payload["input_dim"]))
    policy.load_state_dict(payload["state_dict"])
    return policy.to(map_location).eval(), FrameProjection.from_state(payload["projection"])
