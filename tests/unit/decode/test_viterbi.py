"""Tests for greedy (Viterbi) decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unsup_asr.decode.viterbi import ViterbiConfig, ViterbiDecoder, decode_one

VOCAB = ["<SIL>", "AA", "B", "K"]


def _one_hot(ids: list[int], v: int = len(VOCAB)) -> np.ndarray:
    """(S, V) log-probs peaked on ``ids``."""
    out = np.full((len(ids), v), -5.0, dtype=np.float32)
    out[np.arange(len(ids)), ids] = -0.1
    return out


def test_decode_one_merges_then_drops_silence() -> None:
    lp = _one_hot([1, 1, 0, 1, 2, 2, 0, 0, 3])
    assert decode_one(lp, VOCAB) == ["AA", "AA", "B", "K"]
    assert decode_one(lp, VOCAB, ViterbiConfig(merge_repeats=False)) == ["AA", "AA", "AA", "B", "B", "K"]
    assert decode_one(_one_hot([0, 0]), VOCAB) == []
    assert decode_one(np.zeros((0, 4), dtype=np.float32), VOCAB) == []


def test_batch_ignores_padding() -> None:
    a = _one_hot([2, 2, 3, 0, 1])
    b = _one_hot([1, 0, 3, 3, 3])  # segments 2.. are padding for this utterance
    b[2:] = np.nan  # padding content must not matter, even NaN
    batch = torch.from_numpy(np.stack([a, b]))
    out = ViterbiDecoder()(batch, torch.tensor([5, 2]), VOCAB)
    assert out == [["B", "K", "AA"], ["AA"]]
    assert ViterbiDecoder()(batch, torch.tensor([0, 1]), VOCAB) == [[], ["AA"]]


def test_batch_matches_decode_one() -> None:
    gen = torch.Generator().manual_seed(0)
    lp = torch.randn(3, 7, 4, generator=gen).log_softmax(-1)
    lens = torch.tensor([7, 4, 1])
    out = ViterbiDecoder()(lp, lens, VOCAB)
    assert out == [decode_one(lp[i, : int(n)].numpy(), VOCAB) for i, n in enumerate(lens)]


def test_bad_input() -> None:
    dec = ViterbiDecoder()
    with pytest.raises(ValueError, match="shape"):
        dec(torch.zeros(2, 3), torch.tensor([1, 1]), VOCAB)
    with pytest.raises(ValueError, match="lens must lie"):
        dec(torch.zeros(1, 3, 4), torch.tensor([4]), VOCAB)
    with pytest.raises(ValueError, match="lens must have shape"):
        dec(torch.zeros(2, 3, 4), torch.tensor([1]), VOCAB)
    with pytest.raises(ValueError, match="V=3"):
        decode_one(np.zeros((2, 4)), VOCAB[:3])
    with pytest.raises(ValueError, match="NaN"):
        decode_one(np.full((2, 4), np.nan), VOCAB)
    with pytest.raises(ValueError, match="silence"):
        ViterbiDecoder(ViterbiConfig(silence=""))


def test_switch_penalty_smooths_flicker() -> None:
    import numpy as np

    from unsup_asr.decode.viterbi import ViterbiConfig, decode_one, smooth_path

    vocab = ["a", "b", "<SIL>"]
    probs = np.array([[0.6, 0.4, 0.0], [0.4, 0.6, 0.0], [0.6, 0.4, 0.0], [0.1, 0.9, 0.0], [0.1, 0.9, 0.0]])
    lp = np.log(probs + 1e-9)
    assert decode_one(lp, vocab) == ["a", "b", "a", "b"]  # argmax flickers
    assert decode_one(lp, vocab, ViterbiConfig(switch_penalty=0.3)) == ["a", "b"]
    assert smooth_path(lp, 0.0).tolist() == lp.argmax(1).tolist()
    # the path maximises the penalised score: check against brute force on a small random case
    rng = np.random.default_rng(0)
    x = np.log(rng.dirichlet(np.ones(3), size=5))
    import itertools

    def total(path: tuple[int, ...]) -> float:
        return float(sum(x[t, p] for t, p in enumerate(path)) - 0.7 * sum(a != b for a, b in itertools.pairwise(path)))

    best = max(itertools.product(range(3), repeat=5), key=total)
    assert total(tuple(smooth_path(x, 0.7).tolist())) == total(best)
