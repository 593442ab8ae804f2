"""Typed run configuration, registered with hydra's ConfigStore.

``RunConfig`` nests one dataclass per stage. The featurizer and the segmenter are config *groups*
(``features=mfcc``, ``segmenter=kmeans_join``) filled from the registries, so a plugged-in
segmenter is selected with ``segmenter=NAME`` and its own fields. Presets are functions that build
on each other (see :func:`demo_preset`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

import segmentation  # noqa: F401 - registers the segmenters in the "segmenter" config group
from gan.config import GanConfig
from unsup_asr.data.demo import DemoCorpusConfig
from unsup_asr.features import mfcc  # noqa: F401 - registers the featurizers in the "features" group


@dataclass(kw_only=True)
class DataConfig:
    """Which corpus to prepare."""

    corpus: str = "demo"
    """Corpus kind. ``demo``: the embedded synthetic espeak-ng corpus (more kinds in later recipes)."""
    demo: DemoCorpusConfig = field(default_factory=DemoCorpusConfig)
    """Settings of the demo corpus generator."""

    def validate(self) -> None:
        if self.corpus != "demo":
            raise ValueError(f"data.corpus={self.corpus!r} is not supported yet; use 'demo'")
        self.demo.validate()


@dataclass(kw_only=True)
class SplitsConfig:
    """Names of the manifest splits used by each role."""

    train: str = "train"
    """Unlabelled training audio."""
    valid: str = "valid"
    """Unlabelled validation audio, used only for unsupervised checkpoint selection."""
    test: str = "test"
    """Evaluation audio (its transcripts are used only by the score stage)."""

    def all(self) -> list[str]:
        return list(dict.fromkeys([self.train, self.valid, self.test]))

    def validate(self) -> None:
        if not (self.train and self.valid and self.test):
            raise ValueError("splits.train, splits.valid and splits.test must be non-empty")


@dataclass(kw_only=True)
class TextConfig:
    """Unpaired text: phonemisation, silence insertion, phone LM."""

    language: str = "en-us"
    """espeak-ng language used to phonemise the text."""
    sil_prob: float = 0.25
    """Probability of a silence token between two words (wav2vec-U: 0.25)."""
    max_sentences: int = 0
    """Use at most this many sentences of unpaired text (0 = all)."""
    lm_order: int = 4
    """Order of the phone n-gram LM used for unsupervised selection."""
    min_phone_count: int = 2
    """Phones seen fewer times in the text are dropped from the inventory (with their sentences)."""

    def validate(self) -> None:
        if not 0.0 <= self.sil_prob <= 1.0:
            raise ValueError(f"text.sil_prob must be in [0, 1], got {self.sil_prob}")
        if self.lm_order < 2:
            raise ValueError("text.lm_order must be >= 2")


@dataclass(kw_only=True)
class ScoreConfig:
    """Evaluation settings (the only stage that reads transcripts)."""

    tolerance_ms: float = 20.0
    """Boundary matching tolerance in milliseconds."""
    ceilings: bool = True
    """Also train the two *supervised diagnostic* generators (same segments; gold segments)."""
    ceiling_updates: int = 800
    """Updates for each supervised ceiling generator."""

    def validate(self) -> None:
        if self.tolerance_ms <= 0:
            raise ValueError("score.tolerance_ms must be > 0")


@dataclass(kw_only=True)
class RunConfig:
    """Everything one pipeline run needs."""

    defaults: list[Any] = field(default_factory=lambda: [{"features": "mfcc"}, {"segmenter": "kmeans_join"}, "_self_"])
    """Hydra defaults list: the featurizer and segmenter groups."""
    out: str = "demo_out"
    """Output folder; everything goes under ``out/data`` and ``out/exp`` (safe to delete)."""
    seed: int = 0
    """Global random seed."""
    layer: int = 0
    """Feature layer to use (0 for MFCC; see unsup_asr.features.featurizer for the numbering)."""
    splits: SplitsConfig = field(default_factory=SplitsConfig)
    """Split names."""
    data: DataConfig = field(default_factory=DataConfig)
    """Corpus preparation."""
    features: Any = MISSING
    """Featurizer config (group ``features``)."""
    segmenter: Any = MISSING
    """Segmenter config (group ``segmenter``)."""
    text: TextConfig = field(default_factory=TextConfig)
    """Unpaired text preparation."""
    gan: GanConfig = field(default_factory=GanConfig)
    """GAN training."""
    score: ScoreConfig = field(default_factory=ScoreConfig)
    """Scoring."""

    def validate(self) -> None:
        for part in (self.splits, self.data, self.features, self.segmenter, self.text, self.gan, self.score):
            part.validate()


def store_configs() -> None:
    """Register ``run`` (the RunConfig schema) in hydra's ConfigStore."""
    ConfigStore.instance().store(name="run", node=RunConfig)
