"""Cluster quality against gold phones: phone purity, cluster purity and PNMI.

These are the three frame-level measures of how well discrete units (e.g. k-means clusters of SSL
features) line up with phones, as defined by Hsu et al. 2021, "HuBERT: Self-Supervised Speech
Representation Learning by Masked Prediction of Hidden Units" (IEEE/ACM TASLP), Sec. IV-D
("phone purity, cluster purity, PNMI").

Inputs are, per utterance, frame-level integer arrays: cluster ids ``z`` in ``[0, K)`` and gold
phone ids ``y`` in ``[0, P)``, at the same frame rate (e.g. 20 ms SSL frames, with the phone
alignment sampled at the frame centres). Counts are summed over the corpus first, then the joint
distribution is estimated as ``P(k, p) = n(k, p) / N`` with ``N`` the total number of frames, and
marginals ``P(k) = sum_p P(k, p)``, ``P(p) = sum_k P(k, p)``. Then:

* **phone purity** ``= sum_k max_p P(k, p) = E_k[max_p P(p | k)]``: the frame accuracy obtained
  by labelling each cluster with its most frequent phone (many clusters may map to one phone, so
  it grows with ``K``). Fraction in [0, 1].
* **cluster purity** ``= sum_p max_k P(k, p) = E_p[max_k P(k | p)]``: the frame accuracy of
  labelling each phone with its most frequent cluster (shrinks as ``K`` grows). Fraction in [0, 1].
* **PNMI** (phone-normalised mutual information)
  ``= I(y; z) / H(y)``, with ``I(y; z) = sum_{k,p} P(k, p) log(P(k, p) / (P(k) P(p)))`` and
  ``H(y) = -sum_p P(p) log P(p)``: the fraction of the phone entropy explained by the cluster
  labels. Unitless in [0, 1] (the log base cancels; nats are used internally). 1 when the phone is
  a function of the cluster, 0 when they are independent.

The plug-in estimates above are biased upwards for small ``N``: for independent labels the
expected mutual information is about ``(K - 1)(P - 1) / (2N)`` nats, so use enough frames
(typically a full dev set) when comparing codebooks.

Silence (or any other phone) can be excluded with ``ignore_phone``: frames whose gold phone equals
it are dropped before counting, so its column of the count matrix stays zero and it plays no part
in any of the measures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClusterQuality:
    """Corpus-level agreement between frame clusters and gold phones (see the module docstring)."""

    phone_purity: float
    """``sum_k max_p P(k, p)``: accuracy of mapping each cluster to its most likely phone."""
    cluster_purity: float
    """``sum_p max_k P(k, p)``: accuracy of mapping each phone to its most likely cluster."""
    pnmi: float
    """Phone-normalised mutual information ``I(phone; cluster) / H(phone)``, in [0, 1]."""
    num_frames: int
    """Number of frames counted (after truncation and ``ignore_phone`` filtering)."""
    clusters_used: int
    """Number of clusters with at least one counted frame."""


def _as_int_array(values: np.ndarray, what: str, index: int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"utterance {index}: {what} must be a 1-D frame-level array, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"utterance {index}: {what} must hold integer ids, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def cluster_phone_stats(
    clusters: Sequence[np.ndarray],
    phones: Sequence[np.ndarray],
    num_clusters: int,
    num_phones: int,
    *,
    ignore_phone: int | None = None,
) -> np.ndarray:
    """Joint count matrix ``n(k, p)`` of shape ``(num_clusters, num_phones)`` (int64) over a corpus.

    Args:
        clusters: per utterance, frame-level cluster ids in ``[0, num_clusters)``.
        phones: per utterance (same order), frame-level gold phone ids in ``[0, num_phones)``, at
            the same frame rate as ``clusters``.
        num_clusters: codebook size ``K``.
        num_phones: phone inventory size ``P``.
        ignore_phone: if given, frames whose gold phone equals it (e.g. silence) are dropped; its
            column of the result is then all zeros.

    The two arrays of an utterance may differ in length by one frame (feature extractors and
    alignment-to-frame conversions round differently); both are then truncated to the shorter.
    A larger difference raises ``ValueError`` naming the utterance index.
    """
    if len(clusters) != len(phones):
        raise ValueError(
            f"got {len(clusters)} cluster utterances but {len(phones)} phone utterances: pass one array per utterance"
        )
    if num_clusters < 1 or num_phones < 1:
        raise ValueError(f"num_clusters and num_phones must be >= 1, got {num_clusters} and {num_phones}")
    counts = np.zeros(num_clusters * num_phones, dtype=np.int64)
    for i, (c_raw, p_raw) in enumerate(zip(clusters, phones, strict=True)):
        c = _as_int_array(c_raw, "clusters", i)
        p = _as_int_array(p_raw, "phones", i)
        if abs(len(c) - len(p)) > 1:
            raise ValueError(
                f"utterance {i}: {len(c)} cluster frames but {len(p)} phone frames (more than one frame apart); "
                "check that both use the same frame rate and the same utterance order"
            )
        n = min(len(c), len(p))
        c, p = c[:n], p[:n]
        if ignore_phone is not None:
            keep = p != ignore_phone
            c, p = c[keep], p[keep]
        if c.size == 0:
            continue
        if c.min() < 0 or c.max() >= num_clusters:
            raise ValueError(f"utterance {i}: cluster ids must lie in [0, {num_clusters}), got {c.min()}..{c.max()}")
        if p.min() < 0 or p.max() >= num_phones:
            raise ValueError(f"utterance {i}: phone ids must lie in [0, {num_phones}), got {p.min()}..{p.max()}")
        counts += np.bincount(c * num_phones + p, minlength=num_clusters * num_phones)
    return counts.reshape(num_clusters, num_phones)


def cluster_quality(counts: np.ndarray) -> ClusterQuality:
    """Phone purity, cluster purity and PNMI from a ``(K, P)`` joint count matrix.

    ``counts[k, p]`` is the number of frames with cluster ``k`` and gold phone ``p`` (as returned
    by :func:`cluster_phone_stats`). Raises ``ValueError`` when there are no frames, or when only one
    phone occurs (``H(phone) = 0``, so PNMI is undefined).
    """
    n = np.asarray(counts, dtype=np.float64)
    if n.ndim != 2:
        raise ValueError(f"counts must be a 2-D (num_clusters, num_phones) matrix, got shape {n.shape}")
    if (n < 0).any() or not np.isfinite(n).all():
        raise ValueError("counts must be finite and non-negative")
    total = float(n.sum())
    if total <= 0:
        raise ValueError("no frames counted: cluster quality is undefined; check the inputs and ignore_phone")
    joint = n / total
    p_cluster = joint.sum(axis=1)
    p_phone = joint.sum(axis=0)
    nz_phone = p_phone[p_phone > 0]
    h_phone = float(-(nz_phone * np.log(nz_phone)).sum())
    if h_phone <= 0:
        raise ValueError("only one phone occurs in the counted frames: H(phone) = 0 and PNMI is undefined")
    k_idx, p_idx = np.nonzero(joint)
    pj = joint[k_idx, p_idx]
    mutual_info = float((pj * np.log(pj / (p_cluster[k_idx] * p_phone[p_idx]))).sum())
    return ClusterQuality(
        phone_purity=float(joint.max(axis=1).sum()),
        cluster_purity=float(joint.max(axis=0).sum()),
        pnmi=min(max(mutual_info / h_phone, 0.0), 1.0),
        num_frames=round(total),
        clusters_used=int((p_cluster > 0).sum()),
    )


def score_clusters(
    clusters: Sequence[np.ndarray],
    phones: Sequence[np.ndarray],
    num_clusters: int,
    num_phones: int,
    *,
    ignore_phone: int | None = None,
) -> ClusterQuality:
    """:func:`cluster_quality` of :func:`cluster_phone_stats` (same arguments)."""
    return cluster_quality(cluster_phone_stats(clusters, phones, num_clusters, num_phones, ignore_phone=ignore_phone))
