"""Configuration of self-training (``uasr self_train``, :mod:`gan.selftrain`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from unsup_asr.device import resolve_device

STUDENTS = ("segment", "frame")
SELECT_RULES = ("last", "weighted_lm_ppl")


@dataclass(kw_only=True)
class SelfTrainConfig:
    """Rounds of: decode the training audio with the phone LM -> pseudo-labels -> train a student on
    them -> its outputs feed the next round. The first round decodes the learner's model.

    Defaults measured on the demo (recipes/demo/RESULTS.md)."""

    students: list[str] = field(default_factory=list)
    """One entry per round, ``segment`` (a classifier of segment embeddings) or ``frame`` (a
    classifier of spliced frames, not bounded by the segmentation; its pseudo-labels are re-aligned
    to frames by the LM decoder every round). ``[]``: no self-training (decoding uses the learner's model)."""
    lm_order: int = 4
    """Order of the phone LM (``lm.phn.o<N>.bin`` of prepare_text) used for pseudo-labels."""
    lm_weight: float = 0.5
    """LM weight (log10 units against natural-log posteriors) for segment-level pseudo-labels."""
    frame_lm_weight: float = 2.0
    """LM weight for frame-level pseudo-labels (about four frames per phone: the posteriors sum
    over more positions)."""
    beam_size: int = 20
    """Beam of the pseudo-labelling decoder."""
    hidden: int = 256
    """Hidden units of each student layer."""
    layers: int = 1
    """Hidden layers of the segment student (the frame student has ``layers + 1``)."""
    splice: int = 4
    """Frame student input: this many frames on each side of the frame (per-utterance normalised)."""
    epochs: int = 10
    """Passes over the training segments per segment round."""
    frame_epochs: int = 4
    """Passes over the training frames per frame round."""
    batch_size: int = 32
    """Utterances per update."""
    lr: float = 1e-3
    """Adam learning rate."""
    weight_decay: float = 1e-4
    """Adam weight decay."""
    dropout: float = 0.2
    """Dropout after each hidden layer."""
    stop_change: float = 0.1
    """Label-free stopping rule: once a round changes fewer than this share of the training
    pseudo-labels of its unit (since the previous round of that unit), the remaining rounds of the
    same student kind are skipped (0: run every round)."""
    select: str = "last"
    """Which model is final: ``last`` round's, or the one (learner's included) with the lowest
    ``weighted_lm_ppl`` of its Viterbi output on unlabelled valid audio."""
    seed: int = 0
    """Seed of initialisation and batching."""
    device: str = "auto"
    """Torch device of the students (``auto``: ``cuda`` when available, else ``cpu``)."""

    def validate(self) -> None:
        bad = [s for s in self.students if s not in STUDENTS]
        if bad:
            raise ValueError(f"self_train.students entries must be in {STUDENTS}, got {bad}")
        if self.select not in SELECT_RULES:
            raise ValueError(f"self_train.select={self.select!r} must be one of {SELECT_RULES}")
        if self.lm_order < 2 or self.lm_weight < 0 or self.frame_lm_weight < 0:
            raise ValueError("self_train.lm_order must be >= 2 and the LM weights >= 0")
        for name in ("beam_size", "hidden", "layers", "epochs", "frame_epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"self_train.{name} must be >= 1, got {getattr(self, name)}")
        if self.splice < 0 or not 0.0 <= self.dropout < 1.0 or self.lr <= 0 or self.weight_decay < 0:
            raise ValueError("self_train: splice >= 0, dropout in [0, 1), lr > 0, weight_decay >= 0")
        if not 0.0 <= self.stop_change < 1.0:
            raise ValueError(f"self_train.stop_change must be in [0, 1), got {self.stop_change}")
        resolve_device(self.device)
