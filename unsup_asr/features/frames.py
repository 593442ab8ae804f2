"""The one place that converts between samples, frames and seconds.

All featurizers in unsup-asr emit frames at a fixed shift (20 ms for wav2vec 2.0-style models,
stride 320 samples at 16 kHz; the MFCC featurizer stacks two 10 ms frames to match). Frame ``t``
covers the time ``[t * shift, (t + 1) * shift)`` seconds. Lengths computed from the audio may differ
by one frame from what a model emits (padding conventions); :func:`fix_length` reconciles them.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000
"""Audio sample rate (Hz) that every featurizer expects."""


def num_frames(num_samples: int, shift_s: float, sample_rate: int = SAMPLE_RATE) -> int:
    """Number of frames of shift ``shift_s`` seconds covering ``num_samples`` samples."""
    return int(num_samples / sample_rate / shift_s)


def frame_to_seconds(frame: int | np.ndarray, shift_s: float) -> float | np.ndarray:
    """Start time (s) of frame index ``frame``."""
    return frame * shift_s


def seconds_to_frame(t: float | np.ndarray, shift_s: float) -> int | np.ndarray:
    """Index of the frame boundary nearest to time ``t`` (s)."""
    if isinstance(t, np.ndarray):
        return np.rint(t / shift_s).astype(np.int64)
    return round(t / shift_s)


def boundaries_to_seconds(boundaries: np.ndarray, shift_s: float) -> list[float]:
    """Internal boundary times (s) from a ``(T,)`` bool array where ``True`` marks a frame that
    *starts* a new segment (frame 0 is always a start and is not reported)."""
    idx = np.flatnonzero(boundaries)
    return [float(i * shift_s) for i in idx if i > 0]


def fix_length(feats: np.ndarray, target: int, tolerance: int = 1) -> np.ndarray:
    """Pad (repeat last frame) or trim ``feats (T,D)`` to ``target`` frames when they differ by at
    most ``tolerance`` frames; a larger mismatch is an error."""
    t = feats.shape[0]
    if abs(t - target) > tolerance:
        raise ValueError(f"feature length {t} differs from expected {target} by more than {tolerance} frame(s)")
    if t > target:
        return feats[:target]
    if t < target:
        pad = np.repeat(feats[-1:], target - t, axis=0)
        return np.concatenate([feats, pad], axis=0)
    return feats
