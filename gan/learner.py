"""The Learner interface, its inputs and outputs, and the LEARNERS registry.

A learner maps segments to phones **without labels**: it sees segment embeddings of the unlabelled
``train`` and ``valid`` audio, the phonemised unpaired text and a label-free scoring function, and
returns a phone model (:mod:`gan.phone_model`) chosen by a documented label-free rule.

Every checkpoint a learner evaluated is a :class:`Candidate` (written to ``candidates.jsonl`` with
its weights under ``candidates/``), so that the score stage can report, as a diagnostic that uses
labels, how well the label-free rule ranked them (see :mod:`unsup_asr.stages.diagnostics`).

To add a learner: a file with a config dataclass (``name`` field, ``validate()``) and a class
decorated with ``@LEARNERS.register("my_learner", config=MyLearnerConfig)``, imported in
``gan/__init__.py``. ``learner=my_learner learner.some_field=3`` then selects it.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unsup_asr.io import atomic_write_text
from unsup_asr.registry import Registry

SelectScore = Callable[[list[list[str]]], float]
"""Label-free score of decoded hypotheses (phones, repeats merged, silence removed); lower is better."""

CANDIDATES = "candidates.jsonl"


@dataclass(kw_only=True)
class LearnerInputs:
    """Everything a learner may use. No transcript, alignment or reference is ever part of it."""

    train: list[np.ndarray]
    """Segment embeddings of the unlabelled training audio, one ``(S_i, D)`` float array per utterance."""
    valid: list[np.ndarray]
    """Segment embeddings of the unlabelled validation audio (label-free selection only)."""
    text: list[np.ndarray]
    """Unpaired phone sentences as id arrays into ``vocab``, ``<SIL>`` where ``prepare_text`` put it."""
    vocab: list[str]
    """Output inventory (``<SIL>`` included), as ``prepare_text`` wrote it."""
    select_score: SelectScore
    """wav2vec-U's weighted LM perplexity of hypotheses under the unpaired text's phone LM."""
    init: Path | None = None
    """A phone model to start from (re-learning on new segments); ``None`` = fresh."""

    def __post_init__(self) -> None:
        check_inputs(self)


@dataclass(kw_only=True)
class Candidate:
    """One evaluated checkpoint of a learner."""

    tag: str
    """Unique name within the learner's folder (e.g. ``seed1/step2500``, ``restart3``)."""
    checkpoint: str
    """Path of the phone model, relative to the learner's folder."""
    scores: dict[str, float]
    """Label-free scores (lower is better), e.g. ``weighted_lm_ppl``, ``match_loss_valid``."""
    step: int = 0
    """Update count at which it was evaluated."""


@dataclass(kw_only=True)
class LearnResult:
    """What :meth:`Learner.fit` returns."""

    checkpoint: Path
    """The selected phone model."""
    rule: str
    """The label-free selection rule, in words (recorded in score.json)."""
    score: float
    """The selected candidate's value of the rule's score."""
    candidates: list[Candidate] = field(default_factory=list)
    """Every evaluated checkpoint, the selected one included."""
    info: dict[str, Any] = field(default_factory=dict)
    """Learner-specific facts (updates done, seconds, ...), JSON-able."""


class Learner(abc.ABC):
    """Segments + unpaired text in, a phone model out (see the module docstring)."""

    def __init__(self, cfg: Any) -> None:
        cfg.validate()
        self.cfg = cfg

    @abc.abstractmethod
    def fit(self, inputs: LearnerInputs, out_dir: Path) -> LearnResult:
        """Train into ``out_dir`` (resuming what a killed run left there) and return the selection.
        A finished folder (``.done``) returns its stored result without training."""


LEARNERS: Registry[Learner] = Registry("learner")


def build_learner(cfg: Any) -> Learner:
    """The registered learner named ``cfg.name``, built from its config."""
    return LEARNERS.get(cfg.name).cls(cfg)  # type: ignore[call-arg]


def check_inputs(inputs: LearnerInputs) -> None:
    """Clear errors for inputs no learner can use: empty splits, mixed or NaN features, text whose
    phone ids fall outside the vocabulary, a vocabulary without ``<SIL>``."""
    if "<SIL>" not in inputs.vocab:
        raise ValueError("the vocabulary has no <SIL> token: run prepare_text (it adds silences)")
    dims = set()
    for name, feats in (("train", inputs.train), ("valid", inputs.valid)):
        if not feats:
            raise ValueError(f"no {name} segments: the {name} split is empty; check splits.{name}")
        empty = sum(1 for f in feats if len(f) == 0)
        if empty:
            raise ValueError(f"{empty} {name} utterances have no segment: re-run the segment stage")
        dims |= {f.shape[1] if f.ndim == 2 else -1 for f in feats}
        bad = next((i for i, f in enumerate(feats) if not np.isfinite(f).all()), None)
        if bad is not None:
            raise ValueError(f"{name} segment embeddings of utterance #{bad} contain NaN or inf: the features or "
                             "the segmenter produced them; re-extract features (check the audio) and re-segment")
    if len(dims) != 1 or -1 in dims:
        raise ValueError(f"segment embeddings must be 2-D with one dimension across train and valid, "
                         f"got {sorted(dims)}")
    if not inputs.text:
        raise ValueError("the unpaired text is empty: run prepare_text with a non-empty text.path")
    top = max(int(t.max()) for t in inputs.text if len(t))
    if top >= len(inputs.vocab) or min(int(t.min()) for t in inputs.text if len(t)) < 0:
        raise ValueError(f"text phone ids reach {top} but the vocabulary has {len(inputs.vocab)} phones: the text "
                         "and the vocabulary come from different prepare_text runs; re-run prepare_text")


def write_candidates(out_dir: Path, candidates: list[Candidate]) -> None:
    """``out_dir/candidates.jsonl``: one JSON record per candidate (atomically)."""
    atomic_write_text(out_dir / CANDIDATES, "".join(json.dumps(asdict(c), sort_keys=True) + "\n" for c in candidates))


def read_candidates(out_dir: Path) -> list[Candidate]:
    """The candidates a learner (or self-training) wrote to ``out_dir`` (empty if none)."""
    path = out_dir / CANDIDATES
    if not path.is_file():
        return []
    return [Candidate(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
