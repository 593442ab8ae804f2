"""Index bookkeeping of segments over a *flat* frame axis (valid frames of a batch, concatenated).

A batch of utterances is handled as one flat sequence of ``N`` frames; ``utt_start (N,)`` marks each
utterance's first frame, which always starts a segment. A segmentation is a bool ``bounds (N,)``
(True where a frame starts a segment). A *span* is a ``(start, length)`` pair of flat frame indices;
:func:`expand` lists the frames of many spans at once so that they can be pooled and decoded in one
vectorised call (no Python loop over segments).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Spans:
    """``M`` spans and their ``F = lens.sum()`` frames, listed span after span."""

    starts: torch.Tensor
    """``(M,)`` int64 flat index of each span's first frame."""
    lens: torch.Tensor
    """``(M,)`` int64 span lengths in frames (>= 1)."""
    span_id: torch.Tensor
    """``(F,)`` int64 span of each listed frame."""
    offset: torch.Tensor
    """``(F,)`` int64 position of each listed frame inside its span (0-based)."""
    frame: torch.Tensor
    """``(F,)`` int64 flat frame index of each listed frame."""


def expand(starts: torch.Tensor, lens: torch.Tensor) -> Spans:
    """List the frames of the spans ``(starts (M,), lens (M,))``."""
    span_id = torch.repeat_interleave(torch.arange(starts.shape[0], device=starts.device), lens)
    first = torch.cumsum(lens, 0) - lens
    offset = torch.arange(span_id.shape[0], device=starts.device) - first[span_id]
    return Spans(starts=starts, lens=lens, span_id=span_id, offset=offset, frame=starts[span_id] + offset)


def cap_runs(bounds: torch.Tensor, max_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut runs longer than ``max_frames`` every ``max_frames`` frames.

    Args:
        bounds: ``(N,)`` bool segment starts; ``bounds[0]`` must be True.
        max_frames: longest allowed segment in frames.

    Returns:
        ``(capped (N,) bool, forced (N,) bool)``: the new starts and those that were added.
    """
    starts = torch.nonzero(bounds).squeeze(1)
    seg_of = torch.cumsum(bounds.long(), 0) - 1
    offset = torch.arange(bounds.shape[0], device=bounds.device) - starts[seg_of]
    forced = (offset > 0) & (offset % max_frames == 0)
    return bounds | forced, forced


def segments(bounds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``bounds (N,)`` -> ``(starts (S,), lens (S,), seg_of (N,))``: the segments and each frame's segment."""
    starts = torch.nonzero(bounds).squeeze(1)
    ends = torch.cat([starts[1:], starts.new_tensor([bounds.shape[0]])])
    seg_of = torch.cumsum(bounds.long(), 0) - 1
    return starts, ends - starts, seg_of
