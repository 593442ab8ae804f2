"""Statistics compared by the matching learner: the text's, and the expected ones of the outputs.

Three implementations of :class:`gan.match.terms.Statistics`:

* :class:`TextStats`: counts of the (silence-processed) unpaired phone sentences;
* :class:`ClusterStats`: expected statistics of a cluster -> phone table ``T (R, K, V)`` applied to
  every training segment. With hard cluster ids, the whole corpus's cluster n-gram counts ``C_n``
  are sufficient statistics, so the expected trigram distribution is the exact contraction
  ``sum_klm C3[k,l,m] T[k,a] T[l,b] T[m,c]``, in ``O(K^3 V + K^2 V^2 + K V^3)`` per restart,
  whatever the corpus size;
* :class:`BatchStats`: expected statistics of per-position distributions ``P (R, B, S, V)`` of a
  batch of utterances (a feature -> phone map), summed over the batch's positions.

Outputs are modelled as independent across positions given the input, so the expected count of a
bigram ``(a, b)`` at positions ``(t, t+1)`` is ``P_t(a) P_{t+1}(b)``. With ``merge_repeats``, expected
n-grams with a repeated adjacent phone are left out and the rest renormalised: over a sequence with
repeats merged, the bigram counts are exactly the off-diagonal ones; for trigrams this leaves out
the triples spread over a phone split in two, which is the approximation made.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

SIL = "<SIL>"


def process_text(text: Sequence[np.ndarray], sil: int, *, silence: str, merge_repeats: bool) -> list[np.ndarray]:
    """The sentences whose statistics the outputs must match: ``silence`` = ``remove`` (no ``<SIL>``),
    ``edges`` (one ``<SIL>`` at each edge, none inside) or ``keep``; then repeats merged if asked."""
    out = []
    for t in text:
        t = np.asarray(t, dtype=np.int64)
        if silence in ("remove", "edges"):
            t = t[t != sil]
            if silence == "edges":
                t = np.concatenate([[sil], t, [sil]])
        if merge_repeats and len(t) > 1:
            t = t[np.concatenate([[True], t[1:] != t[:-1]])]
        if len(t):
            out.append(t)
    if not out:
        raise ValueError("no text sentence is left after silence removal: the text holds only <SIL>")
    return out


def _flat_counts(seqs: Sequence[np.ndarray], size: int, n: int, gap: int = 1) -> np.ndarray:
    """Counts ``(size,)*n`` of n-grams whose consecutive members are ``gap`` apart, over ``seqs``."""
    idx = []
    for s in seqs:
        span = (n - 1) * gap
        if len(s) <= span:
            continue
        flat = np.zeros(len(s) - span, dtype=np.int64)
        for i in range(n):
            flat = flat * size + s[i * gap : len(s) - span + i * gap]
        idx.append(flat)
    counts = np.bincount(np.concatenate(idx), minlength=size**n) if idx else np.zeros(size**n, np.int64)
    return counts.reshape((size,) * n).astype(np.float64)


def _positional_counts(seqs: Sequence[np.ndarray], size: int, positions: int) -> np.ndarray:
    """Counts ``(2J, size)``: row ``j < J`` = token at position ``j``, row ``J + j`` = at ``len - 1 - j``."""
    out = np.zeros((2 * positions, size))
    for s in seqs:
        for j in range(min(positions, len(s))):
            out[j, s[j]] += 1
            out[positions + j, s[len(s) - 1 - j]] += 1
    return out


def _normalise(x: torch.Tensor, dims: int) -> torch.Tensor:
    return x / x.sum(dim=tuple(range(-dims, 0)), keepdim=True).clamp_min(1e-30)


def merge_mask(vocab_size: int, n: int, like: torch.Tensor) -> torch.Tensor:
    """1 where no two adjacent members of an n-gram are equal ``(V,)*n`` (dtype and device of ``like``)."""
    off = 1.0 - torch.eye(vocab_size, dtype=like.dtype, device=like.device)
    if n == 2:
        return off
    if n == 3:
        return off[:, :, None] * off[None, :, :]
    return torch.ones((vocab_size,) * n, dtype=like.dtype, device=like.device)


class TextStats:
    """Statistics of phone-id sentences (already silence-processed)."""

    def __init__(self, seqs: Sequence[np.ndarray], vocab_size: int, *, positions: int,
                 device: torch.device | None = None) -> None:
        self.seqs, self.vocab_size, self.positions = list(seqs), vocab_size, positions
        self.device = device or torch.device("cpu")
        self._cache: dict[tuple[str, int], torch.Tensor] = {}

    def _get(self, key: tuple[str, int]) -> torch.Tensor:
        if key not in self._cache:
            kind, n = key
            if kind == "ngram":
                counts, dims = _flat_counts(self.seqs, self.vocab_size, n), n
            elif kind == "skip":
                counts, dims = _flat_counts(self.seqs, self.vocab_size, 2, gap=n), 2
            else:
                counts, dims = _positional_counts(self.seqs, self.vocab_size, self.positions), 1
            self._cache[key] = _normalise(torch.from_numpy(counts), dims).to(self.device)
        return self._cache[key]

    def ngram(self, n: int) -> torch.Tensor:
        return self._get(("ngram", n))

    def skipgram(self, d: int) -> torch.Tensor:
        return self._get(("skip", d))

    def positional(self) -> torch.Tensor:
        return self._get(("pos", 0))


class ClusterCounts:
    """Normalised n-gram, skip-gram and positional counts of cluster-id sequences (computed once)."""

    def __init__(self, ids: Sequence[np.ndarray], num_clusters: int, *, skip_distances: Sequence[int],
                 positions: int, device: torch.device | None = None) -> None:
        k, dev = num_clusters, device or torch.device("cpu")
        self.num_clusters = k
        self.ngram = {n: _normalise(torch.from_numpy(_flat_counts(ids, k, n)), n).to(dev) for n in (1, 2, 3)}
        self.skip = {d: _normalise(torch.from_numpy(_flat_counts(ids, k, 2, gap=d)), 2).to(dev)
                     for d in skip_distances}
        self.pos = _normalise(torch.from_numpy(_positional_counts(ids, k, positions)), 1).to(dev)


class ClusterStats:
    """Expected statistics of tables ``T (R, K, V)`` (probabilities) over the counted corpus."""

    def __init__(self, counts: ClusterCounts, table: torch.Tensor, *, merge_repeats: bool) -> None:
        self.c, self.t, self.merge = counts, table, merge_repeats
        self.vocab_size = table.shape[-1]

    def _merged(self, p: torch.Tensor, n: int) -> torch.Tensor:
        if not self.merge or n == 1:
            return p
        return _normalise(p * merge_mask(self.vocab_size, n, p), n)

    def ngram(self, n: int) -> torch.Tensor:
        t, c = self.t, self.c.ngram[n]
        if n == 1:
            return torch.einsum("k,rka->ra", c, t)
        if n == 2:
            return self._merged(torch.einsum("rka,rkb->rab", t, torch.einsum("kl,rlb->rkb", c, t)), 2)
        if n == 3:
            x = torch.einsum("klm,rmc->rklc", c, t)
            y = torch.einsum("rklc,rlb->rkbc", x, t)
            return self._merged(torch.einsum("rkbc,rka->rabc", y, t), 3)
        raise ValueError(f"n-grams of order {n} are not supported (1..3)")

    def skipgram(self, d: int) -> torch.Tensor:
        if d not in self.c.skip:
            raise ValueError(f"skip distance {d} was not counted: add it to learner.skip_distances")
        return torch.einsum("rka,rkb->rab", self.t, torch.einsum("kl,rlb->rkb", self.c.skip[d], self.t))

    def positional(self) -> torch.Tensor:
        return torch.einsum("jk,rka->rja", self.c.pos, self.t)


class BatchStats:
    """Expected statistics of per-position distributions ``probs (R, B, S, V)`` of a padded batch
    (``padding_mask (B, S)`` True at padding), over its valid positions."""

    def __init__(self, probs: torch.Tensor, padding_mask: torch.Tensor, *, merge_repeats: bool,
                 positions: int) -> None:
        self.p, self.valid, self.merge, self.positions = probs, ~padding_mask, merge_repeats, positions
        self.vocab_size = probs.shape[-1]

    def _windows(self, n: int, gap: int = 1) -> tuple[list[torch.Tensor], torch.Tensor]:
        span = (n - 1) * gap
        s = self.p.shape[2]
        if s <= span:
            raise ValueError(f"utterances of {s} segments are too short for {n}-grams {gap} apart")
        parts = [self.p[:, :, i * gap : s - span + i * gap] for i in range(n)]
        ok = self.valid[:, span:]  # the window's last member is valid (then all are)
        return parts, ok.to(self.p.dtype)

    def ngram(self, n: int) -> torch.Tensor:
        parts, ok = self._windows(n)
        w = ok[None, :, :, None]
        if n == 1:
            out = (self.p * self.valid.to(self.p.dtype)[None, :, :, None]).sum((1, 2))
        elif n == 2:
            out = torch.einsum("rbsa,rbsc->rac", parts[0] * w, parts[1])
        elif n == 3:
            out = torch.einsum("rbsa,rbsc,rbse->race", parts[0] * w, parts[1], parts[2])
        else:
            raise ValueError(f"n-grams of order {n} are not supported (1..3)")
        out = _normalise(out, n)
        if self.merge and n > 1:
            out = _normalise(out * merge_mask(self.vocab_size, n, out), n)
        return out

    def skipgram(self, d: int) -> torch.Tensor:
        parts, ok = self._windows(2, gap=d)
        return _normalise(torch.einsum("rbsa,rbsc->rac", parts[0] * ok[None, :, :, None], parts[1]), 2)

    def positional(self) -> torch.Tensor:
        lens = self.valid.sum(1)
        rows = []
        for j in range(self.positions):
            here = (lens > j).to(self.p.dtype)[None, :, None]
            first = (self.p[:, :, j] * here).sum(1) if j < self.p.shape[2] else torch.zeros_like(self.p[:, 0, 0])
            rows.append(first)
        for j in range(self.positions):
            idx = (lens - 1 - j).clamp_min(0)
            here = (lens > j).to(self.p.dtype)[None, :, None]
            last = self.p[:, torch.arange(self.p.shape[1], device=self.p.device), idx] * here
            rows.append(last.sum(1))
        return _normalise(torch.stack(rows, 1), 1)
