"""Batching of variable-length segment-feature sequences and phone-id text.

Padding masks are ``(B,S)`` bool tensors, True at padding (PyTorch's ``key_padding_mask``
convention). Batches are drawn with a numpy ``Generator`` so that a resumed run can restore
its state and continue with the same batches.
"""

from __future__ import annotations

import numpy as np
import torch


def _check_nonempty(name: str, seqs: list[np.ndarray]) -> None:
    if not seqs:
        raise ValueError(f"{name} is empty: pass at least one utterance")
    empty = [i for i, s in enumerate(seqs) if len(s) == 0]
    if empty:
        raise ValueError(f"{name} has {len(empty)} empty sequences (first at index {empty[0]}): drop them first")


def check_features(name: str, feats: list[np.ndarray]) -> int:
    """Check a list of ``(S_i, D)`` arrays (non-empty, 2-D, one D) and return D."""
    _check_nonempty(name, feats)
    dims = {f.shape[1] if f.ndim == 2 else -1 for f in feats}
    if len(dims) != 1 or -1 in dims:
        raise ValueError(f"{name} must be 2-D (S_i, D) arrays with one D, got dims {sorted(dims)}")
    return dims.pop()


def check_text(text: list[np.ndarray], vocab_size: int) -> None:
    """Check phone-id sentences: non-empty 1-D integer arrays with ids in ``[0, vocab_size)``."""
    _check_nonempty("text", text)
    for i, t in enumerate(text):
        if t.ndim != 1 or not np.issubdtype(t.dtype, np.integer):
            raise ValueError(f"text[{i}] must be a 1-D integer array of phone ids, got {t.dtype} {t.shape}")
        if t.min() < 0 or t.max() >= vocab_size:
            raise ValueError(f"text[{i}] has phone ids outside [0, {vocab_size}): is the vocab the text's one?")


def pad_features(feats: list[np.ndarray], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad ``(S_i, D)`` arrays into ``(B, max S, D)`` float32 and the ``(B, max S)`` padding mask."""
    lengths = [len(f) for f in feats]
    out = np.zeros((len(feats), max(lengths), feats[0].shape[1]), dtype=np.float32)
    mask = np.ones((len(feats), max(lengths)), dtype=bool)
    for i, f in enumerate(feats):
        out[i, : len(f)] = f
        mask[i, : len(f)] = False
    return torch.from_numpy(out).to(device), torch.from_numpy(mask).to(device)


def one_hot_text(text: list[np.ndarray], vocab_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """One-hot ``(B, max S, V)`` float32 of phone-id sentences, zeros at padding, and the mask."""
    lengths = [len(t) for t in text]
    ids = np.zeros((len(text), max(lengths)), dtype=np.int64)
    mask = np.ones((len(text), max(lengths)), dtype=bool)
    for i, t in enumerate(text):
        ids[i, : len(t)] = t
        mask[i, : len(t)] = False
    mask_t = torch.from_numpy(mask).to(device)
    x = torch.nn.functional.one_hot(torch.from_numpy(ids).to(device), vocab_size).float()
    return x.masked_fill(mask_t.unsqueeze(-1), 0.0), mask_t


def sample_batch(seqs: list[np.ndarray], batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``batch_size`` sequences drawn uniformly with replacement."""
    return [seqs[i] for i in rng.integers(0, len(seqs), size=batch_size)]
