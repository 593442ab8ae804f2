"""Configuration of the output-statistics matching learner (``learner=match``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from gan.match.terms import MATCH_TERMS
from unsup_asr.device import resolve_device

SILENCE_RULES = ("remove", "edges", "keep")
SELECT_RULES = ("match_loss", "valid_match_loss", "weighted_lm_ppl")


@dataclass(kw_only=True)
class MatchConfig:
    """Non-adversarial learning: the expected n-gram statistics of the generator's outputs over the
    training audio are matched to those of the unpaired phone text (cross-entropy), from
    ``restarts`` random starts trained together; see :mod:`gan.match`.

    Defaults measured on the demo (recipes/demo/RESULTS.md): a cluster -> phone table over
    k-means(64) of the segment embeddings, bigram + trigram + positional-unigram terms, repeats
    merged, silence removed from the text, 8 restarts of 2 000 Adam updates from near-uniform tables."""

    name: str = "match"
    """Registry name of the learner."""
    input: str = "clusters"
    """``clusters``: a table P(phone | k-means cluster of the segment), trained on whole-corpus
    cluster n-gram counts (exact, cheap); ``features``: a linear/conv map of the (layer-normalised)
    segment embeddings, trained on batches of utterances."""
    num_clusters: int = 64
    """k-means clusters of the segment embeddings (``input=clusters``)."""
    kernel_size: int = 1
    """Width in segments of the map (``input=features``; odd)."""
    terms: dict[str, float] = field(default_factory=lambda: {"bigram": 1.0, "trigram": 1.0, "positional": 0.5})
    """Loss terms and their weights (names of :data:`gan.match.terms.MATCH_TERMS`: ``unigram``,
    ``bigram``, ``trigram``, ``skipgram``, ``positional``)."""
    skip_distances: list[int] = field(default_factory=lambda: [2, 3, 4])
    """Distances of the ``skipgram`` term (pairs of outputs ``d`` segments apart)."""
    positions: int = 4
    """Positions from each utterance edge in the ``positional`` term (positional unigrams)."""
    merge_repeats: bool = True
    """Compare statistics of sequences with repeats merged: text repeats are merged, and expected
    audio bigrams/trigrams with a repeated phone are left out and the rest renormalised, so a phone
    split over two segments costs nothing (decoding merges repeats too)."""
    silence: str = "remove"
    """What the text statistics do with ``<SIL>`` (prepare_text inserts it between words at random,
    far more often than audio segments are silent): ``remove`` all, ``edges`` = one ``<SIL>`` at each
    sentence edge and none inside, ``keep`` as prepared."""
    restarts: int = 8
    """Random starts trained together (one batched run); the selection rule picks one."""
    steps: int = 2000
    """Adam updates (the budget: the same command gives the same result on any machine)."""
    lr: float = 0.02
    """Adam learning rate."""
    init_std: float = 0.01
    """Std of the initial logits: near-uniform starts whose symmetry the statistics break (larger
    values start from random tables and end in worse optima, measured on the demo)."""
    batch_size: int = 64
    """Utterances per batch (``input=features``)."""
    select: str = "match_loss"
    """Label-free rule choosing among restarts: ``match_loss`` (the loss on all training audio),
    ``valid_match_loss`` (on the unlabelled valid audio) or ``weighted_lm_ppl`` (wav2vec-U's score of
    the Viterbi output on valid). All three are recorded for every restart."""
    seed: int = 0
    """Seed of k-means, the initial tables and batching."""
    max_fit_points: int = 200_000
    """At most this many training segments fit the k-means."""
    device: str = "auto"
    """Torch device of the training (``auto``: ``cuda`` when available, else ``cpu``)."""

    def validate(self) -> None:
        if self.input not in ("clusters", "features"):
            raise ValueError(f"learner.input={self.input!r} must be 'clusters' or 'features'")
        if self.num_clusters < 2:
            raise ValueError(f"learner.num_clusters must be >= 2, got {self.num_clusters}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"learner.kernel_size must be odd and >= 1, got {self.kernel_size}")
        unknown = sorted(set(self.terms) - set(MATCH_TERMS))
        if unknown:
            raise ValueError(f"learner.terms has unknown terms {unknown}; known: {sorted(MATCH_TERMS)}")
        if not any(w > 0 for w in self.terms.values()) or any(w < 0 for w in self.terms.values()):
            raise ValueError(f"learner.terms needs weights >= 0, at least one > 0, got {self.terms}")
        if not self.skip_distances or min(self.skip_distances) < 1:
            raise ValueError("learner.skip_distances must be a non-empty list of distances >= 1")
        if self.silence not in SILENCE_RULES:
            raise ValueError(f"learner.silence={self.silence!r} must be one of {SILENCE_RULES}")
        if self.select not in SELECT_RULES:
            raise ValueError(f"learner.select={self.select!r} must be one of {SELECT_RULES}")
        for name in ("restarts", "steps", "batch_size", "positions", "max_fit_points"):
            if getattr(self, name) < 1:
                raise ValueError(f"learner.{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0 or self.init_std <= 0:
            raise ValueError("learner.lr and learner.init_std must be > 0")
        resolve_device(self.device)
