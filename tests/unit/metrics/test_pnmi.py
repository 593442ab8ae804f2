"""Tests for frame-level cluster quality: phone purity, cluster purity, PNMI (HuBERT, Sec. IV-D)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unsup_asr.metrics.pnmi import ClusterQuality, cluster_phone_stats, cluster_quality, score_clusters


def test_perfect_one_to_one_mapping() -> None:
    rng = np.random.default_rng(0)
    phones = [rng.integers(0, 5, size=n) for n in (30, 17, 50)]
    perm = np.array([3, 0, 4, 1, 2])  # cluster = perm[phone]: a relabelling, still one-to-one
    clusters = [perm[p] for p in phones]
    q = score_clusters(clusters, phones, num_clusters=5, num_phones=5)
    assert q.phone_purity == pytest.approx(1.0)
    assert q.cluster_purity == pytest.approx(1.0)
    assert q.pnmi == pytest.approx(1.0)
    assert q.num_frames == 97
    assert q.clusters_used == 5


def test_independent_clusters_pnmi_near_zero() -> None:
    rng = np.random.default_rng(1)
    n, k, p = 200_000, 50, 40
    clusters = [rng.integers(0, k, size=n)]
    phones = [rng.integers(0, p, size=n)]
    q = score_clusters(clusters, phones, k, p)
    # Plug-in MI bias ~ (K-1)(P-1)/(2N) = 0.0048 nats vs H(phone) ~ ln 40 = 3.69 nats -> PNMI ~ 0.0013.
    assert 0.0 <= q.pnmi < 0.005
    assert q.phone_purity < 0.05  # chance level 1/40 plus small noise
    assert q.clusters_used == k


def test_hand_computed_example() -> None:
    # counts (rows: clusters k=0..2, cols: phones p=0..1), N = 8:
    #   k0: [3, 1], k1: [0, 2], k2: [0, 2]
    # phone purity   = (max row) / N = (3 + 2 + 2) / 8 = 7/8
    # cluster purity = (max col) / N = (3 + 2) / 8 = 5/8   (phone 1's best cluster has 2 of its 5 frames)
    # P(k) = [4/8, 2/8, 2/8], P(p) = [3/8, 5/8]
    # I = 3/8 ln((3/8)/(4/8 * 3/8)) + 1/8 ln((1/8)/(4/8 * 5/8)) + 2 * 2/8 ln((2/8)/(2/8 * 5/8))
    #   = 3/8 ln 2 + 1/8 ln(2/5) + 1/2 ln(8/5) = 0.25993 - 0.11454 + 0.23500 = 0.38040 nats
    # H(phone) = -(3/8 ln 3/8 + 5/8 ln 5/8) = 0.36781 + 0.29375 = 0.66156 nats
    # PNMI = 0.38040 / 0.66156 = 0.57500
    counts = np.array([[3, 1], [0, 2], [0, 2]])
    q = cluster_quality(counts)
    mi = 3 / 8 * math.log(2) + 1 / 8 * math.log(2 / 5) + 1 / 2 * math.log(8 / 5)
    h = -(3 / 8 * math.log(3 / 8) + 5 / 8 * math.log(5 / 8))
    assert isinstance(q, ClusterQuality)
    assert q.phone_purity == pytest.approx(7 / 8)
    assert q.cluster_purity == pytest.approx(5 / 8)
    assert q.pnmi == pytest.approx(mi / h)
    assert (q.num_frames, q.clusters_used) == (8, 3)
    assert q.pnmi == pytest.approx(0.57500, abs=1e-4)

    # The same counts built from frames, split over two utterances.
    clusters = [np.array([0, 0, 0, 0, 1]), np.array([1, 2, 2])]
    phones = [np.array([0, 0, 0, 1, 1]), np.array([1, 1, 1])]
    np.testing.assert_array_equal(cluster_phone_stats(clusters, phones, 3, 2), counts)


def test_off_by_one_truncates_to_shorter() -> None:
    clusters = [np.array([0, 1, 1, 0]), np.array([1, 0])]
    phones = [np.array([0, 1, 1]), np.array([1, 0, 1])]  # first: one fewer phone; second: one more
    counts = cluster_phone_stats(clusters, phones, 2, 2)
    # utterance 0 -> pairs (0,0),(1,1),(1,1); utterance 1 -> (1,1),(0,0)
    np.testing.assert_array_equal(counts, np.array([[2, 0], [0, 3]]))


def test_length_mismatch_names_utterance() -> None:
    clusters = [np.array([0, 1]), np.array([0, 1, 0, 1])]
    phones = [np.array([0, 1]), np.array([0, 1])]
    with pytest.raises(ValueError, match="utterance 1"):
        cluster_phone_stats(clusters, phones, 2, 2)
    with pytest.raises(ValueError, match="utterance"):
        cluster_phone_stats(clusters, phones[:1], 2, 2)


def test_ignore_phone_drops_frames() -> None:
    sil = 0
    clusters = [np.array([2, 2, 0, 0, 1, 1, 2])]
    phones = [np.array([0, 0, 1, 1, 2, 2, 0])]
    counts = cluster_phone_stats(clusters, phones, 3, 3, ignore_phone=sil)
    np.testing.assert_array_equal(counts, np.array([[0, 2, 0], [0, 0, 2], [0, 0, 0]]))
    q = score_clusters(clusters, phones, 3, 3, ignore_phone=sil)
    assert q.num_frames == 4
    assert q.clusters_used == 2  # cluster 2 only ever saw silence
    assert q.phone_purity == pytest.approx(1.0)
    assert q.cluster_purity == pytest.approx(1.0)
    assert q.pnmi == pytest.approx(1.0)
    # Without ignoring silence the mapping is still one-to-one here, but over 7 frames.
    assert score_clusters(clusters, phones, 3, 3).num_frames == 7


def test_out_of_range_ids_and_degenerate_counts() -> None:
    with pytest.raises(ValueError, match="cluster ids"):
        cluster_phone_stats([np.array([0, 3])], [np.array([0, 1])], 3, 2)
    with pytest.raises(ValueError, match="phone ids"):
        cluster_phone_stats([np.array([0, 1])], [np.array([0, 2])], 3, 2)
    with pytest.raises(ValueError, match="no frames"):
        cluster_quality(np.zeros((3, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="one phone"):
        cluster_quality(np.array([[3, 0], [2, 0]]))
