"""Pseudo-labels between units: segment labels <-> frame labels, and how much they changed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def segments_to_frames(labels: Sequence[np.ndarray], boundaries: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each frame gets its segment's label: ``labels[i] (S_i,)``, ``boundaries[i] (T_i,)`` bool (True
    where a segment starts) -> ``(T_i,)``."""
    out = []
    for lab, bounds in zip(labels, boundaries, strict=True):
        seg_of_frame = np.cumsum(bounds) - 1
        if seg_of_frame[-1] != len(lab) - 1:
            raise ValueError(f"{len(lab)} segment labels for {int(bounds.sum())} segments")
        out.append(np.asarray(lab)[seg_of_frame])
    return out


def frames_to_segments(labels: Sequence[np.ndarray], boundaries: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each segment gets the most frequent label of its frames: ``(T_i,)`` -> ``(S_i,)``."""
    out = []
    for lab, bounds in zip(labels, boundaries, strict=True):
        starts = np.flatnonzero(bounds)
        ends = np.append(starts[1:], len(lab))
        out.append(np.asarray([np.bincount(lab[s:e]).argmax() for s, e in zip(starts, ends, strict=True)],
                              dtype=np.int64))
    return out


def change_rate(old: Sequence[np.ndarray], new: Sequence[np.ndarray]) -> float:
    """Share of positions whose label differs between two labellings of the same positions."""
    a, b = np.concatenate(list(old)), np.concatenate(list(new))
    if a.shape != b.shape:
        raise ValueError("the two labellings cover different positions")
    return float(np.mean(a != b)) if len(a) else 0.0
