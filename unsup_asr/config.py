"""Typed run configuration, registered with hydra's ConfigStore.

``RunConfig`` nests one dataclass per stage. The featurizer, the segmenter and the learner are
config *groups* (``features=mfcc``, ``segmenter=kmeans_join``, ``learner=match``) filled from the
registries, so a plugged-in segmenter or learner is selected with ``segmenter=NAME`` /
``learner=NAME`` and its own fields. Presets are functions that build
on each other (see :func:`demo_preset`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

import gan  # noqa: F401 - registers the learners in the "learner" config group
import segmentation  # noqa: F401 - registers the segmenters in the "segmenter" config group
from gan.selftrain.config import SelfTrainConfig
from segmentation.rl.config import RlConfig
from unsup_asr.data.demo import DemoCorpusConfig
from unsup_asr.data.sources import SourceConfig
from unsup_asr.data.vad import VadConfig
from unsup_asr.features import mfcc  # noqa: F401 - registers the featurizers in the "features" group
from unsup_asr.features.extract_config import ExtractConfig
from unsup_asr.ssl.config import SslConfig
from unsup_asr.sweep.config import CompareConfig, SweepConfig


@dataclass(kw_only=True)
class DataConfig:
    """Which corpus to prepare."""

    corpus: str = "demo"
    """``demo``: the embedded synthetic espeak-ng corpus (it also writes its unpaired text);
    ``sources``: the corpora listed in ``sources`` (see :mod:`unsup_asr.data.sources`)."""
    demo: DemoCorpusConfig = field(default_factory=DemoCorpusConfig)
    """Settings of the demo corpus generator."""
    sources: list[SourceConfig] = field(default_factory=list)
    """Corpora to read when ``corpus`` is ``sources``, each with its split mapping."""
    root: str = ""
    """Folder that relative corpus paths in ``sources`` (``root``, ``data_dir``, ``manifest`` is
    relative to its corpus) are resolved against; ``""`` = the current directory."""
    vad: VadConfig = field(default_factory=VadConfig)
    """Optional silence removal (silero-vad), recorded in the manifests as ``speech`` regions."""

    def validate(self) -> None:
        self.vad.validate()
        if self.corpus == "demo":
            self.demo.validate()
        elif self.corpus == "sources":
            if not self.sources:
                raise ValueError("data.corpus=sources needs at least one entry in data.sources")
            for source in self.sources:
                source.validate()
        else:
            raise ValueError(f"data.corpus={self.corpus!r} must be 'demo' or 'sources'")


@dataclass(kw_only=True)
class SplitsConfig:
    """Names of the manifest splits used by each role."""

    train: str = "train"
    """Unlabelled training audio."""
    valid: str = "valid"
    """Unlabelled validation audio, used only for unsupervised checkpoint selection."""
    test: str = "test"
    """Main evaluation audio (its transcripts are used only by the score stage); its figures are
    the top-level ones of ``score.json``, and the supervised ceilings are computed on it."""
    more_tests: list[str] = field(default_factory=list)
    """Further evaluation splits, scored the same way under ``score.json``'s ``splits``."""

    def tests(self) -> list[str]:
        """Every evaluation split, the main one first."""
        return list(dict.fromkeys([self.test, *self.more_tests]))

    def all(self) -> list[str]:
        return list(dict.fromkeys([self.train, self.valid, *self.tests()]))

    def validate(self) -> None:
        if not (self.train and self.valid and self.test):
            raise ValueError("splits.train, splits.valid and splits.test must be non-empty")


@dataclass(kw_only=True)
class TextConfig:
    """Unpaired text: phonemisation, silence insertion, phone LM."""

    path: str = ""
    """Unpaired text file (``.txt`` or ``.gz``, one sentence per line); ``""`` = the corpus's own
    ``out/data/corpus/unpaired.txt`` (the demo writes one), unless ``from_split`` is set."""
    from_split: str = ""
    """Use the transcripts of this prepared split as unpaired text instead (TIMIT *matched*: the
    training transcripts; with ``kind=phones`` their reference phones)."""
    kind: str = "words"
    """``words``: sentences to normalise and phonemise; ``phones``: lines already phone sequences."""
    phone_set: str = "ipa"
    """``ipa``: espeak-ng IPA for every word; ``arpabet``: CMUdict ARPAbet-39, espeak-ng for OOVs
    (see :mod:`unsup_asr.text.lexicon`)."""
    remove_eval_overlap: bool = True
    """Drop sentences that also occur in the transcripts of the evaluation splits (counted)."""
    language: str = "en-us"
    """espeak-ng language used to phonemise the text."""
    sil_prob: float = 0.25
    """Probability of a silence token between two words (wav2vec-U: 0.25)."""
    max_sentences: int = 0
    """Use at most this many sentences of unpaired text (0 = all)."""
    lm_order: int = 4
    """Order of the phone n-gram LM used for unsupervised selection."""
    decode_lm_order: int = 6
    """Order of the phone n-gram LM of the phone-LM beam decoder (0: no phone-LM decoding)."""
    word_lm_order: int = 4
    """Order of the word n-gram LM of the lexicon decoder (0: no word decoding)."""
    min_phone_count: int = 2
    """Phones seen fewer times in the text are dropped from the inventory (with their sentences)."""

    def validate(self) -> None:
        if not 0.0 <= self.sil_prob <= 1.0:
            raise ValueError(f"text.sil_prob must be in [0, 1], got {self.sil_prob}")
        if self.lm_order < 2:
            raise ValueError("text.lm_order must be >= 2")
        if self.decode_lm_order == 1 or self.word_lm_order == 1:
            raise ValueError("text.decode_lm_order and text.word_lm_order must be 0 (off) or >= 2")
        if self.kind not in ("words", "phones"):
            raise ValueError(f"text.kind={self.kind!r} must be 'words' or 'phones'")
        if self.phone_set not in ("ipa", "arpabet"):
            raise ValueError(f"text.phone_set={self.phone_set!r} must be 'ipa' or 'arpabet'")
        if self.kind == "phones" and self.word_lm_order:
            raise ValueError("text.kind=phones has no words: set text.word_lm_order=0")


@dataclass(kw_only=True)
class DecodeConfig:
    """Decoding of the selected generator's outputs (Viterbi always; LM decoders when their LMs exist)."""

    phone_lm: bool = True
    """Also decode phones with the phone LM (``text.decode_lm_order``) -> ``<split>.lm.hyp``."""
    phone_lm_weight: float = 0.5
    """Weight of the phone LM (log10) against a segment model's log-probabilities; fixed, not tuned."""
    frame_phone_lm_weight: float = 2.0
    """The same for a frame model (self-training's frame student: about four frames per phone)."""
    frame_switch_penalty: float = 4.0
    """Viterbi decoding of a frame model: cost (natural log) of each change of phone along the path
    (:func:`unsup_asr.decode.viterbi.smooth_path`); segment models are decoded by their argmax."""
    words: bool = True
    """Also decode words with the lexicon and word LM -> ``<split>.wrd`` (needs word text)."""
    lm_weights: list[float] = field(default_factory=lambda: [0.0, 0.5, 1.0, 2.0, 3.0])
    """Word-LM weights tried by the unsupervised tuning on ``valid`` (:mod:`unsup_asr.decode.tuning`)."""
    word_scores: list[float] = field(default_factory=lambda: [-1.0, 0.0, 1.0])
    """Word insertion scores tried by the unsupervised tuning."""
    beam_size: int = 50
    """Beam of both LM decoders."""

    def validate(self) -> None:
        if self.phone_lm_weight < 0 or self.beam_size < 1:
            raise ValueError("decode.phone_lm_weight must be >= 0 and decode.beam_size >= 1")
        if self.words and (not self.lm_weights or not self.word_scores):
            raise ValueError("decode.lm_weights and decode.word_scores need at least one value each")


@dataclass(kw_only=True)
class ScoreConfig:
    """Evaluation settings (the only stage that reads transcripts)."""

    tolerance_ms: float = 20.0
    """Boundary matching tolerance in milliseconds."""
    ceilings: bool = True
    """Also train the two *supervised diagnostic* generators (same segments; gold segments)."""
    ceiling_updates: int = 2000
    """Updates for each supervised ceiling generator."""
    ceiling_lr: float = 3e-3
    """Adam learning rate of the supervised ceiling generators."""
    check_clusters: int = 64
    """k-means clusters of the learning check's random and perfect tables (segment embeddings)."""

    def validate(self) -> None:
        if self.tolerance_ms <= 0:
            raise ValueError("score.tolerance_ms must be > 0")


@dataclass(kw_only=True)
class RefineConfig:
    """Boundary refinement by the self-trained frame model (``uasr refine``; not part of ``all``)."""

    iterations: int = 1
    """Refinement iterations (segment by alignment -> learn -> self-train -> decode -> score)."""
    lm_weight: float = 2.0
    """LM weight of the frame alignment that places the new boundaries."""
    min_frames: int = 1
    """New segments shorter than this many frames are merged into the previous one."""
    pca_dim: int = 0
    """PCA size of the new segment embeddings (0: mean of the normalised frames)."""
    overrides: list[str] = field(default_factory=list)
    """Further ``key=value`` changes of the run's config for the refined runs (e.g. ``learner.restarts=16``)."""

    def validate(self) -> None:
        if self.iterations < 1 or self.min_frames < 1 or self.pca_dim < 0 or self.lm_weight < 0:
            raise ValueError("refine: iterations >= 1, min_frames >= 1, pca_dim >= 0, lm_weight >= 0")
        bad = [o for o in self.overrides if "=" not in o]
        if bad:
            raise ValueError(f"refine.overrides entries must be key=value, got {bad}")


@dataclass(kw_only=True)
class RunConfig:
    """Everything one pipeline run needs."""

    defaults: list[Any] = field(default_factory=lambda: [{"features": "mfcc"}, {"segmenter": "kmeans_join"},
                                                         {"learner": "gan"}, "_self_"])
    """Hydra defaults list: the featurizer, segmenter and learner groups."""
    out: str = "demo_out"
    """Output folder; everything goes under ``out/data`` and ``out/exp`` (safe to delete)."""
    seed: int = 0
    """Global random seed."""
    device: str = ""
    """One torch device for every stage (``cpu``, ``cuda``, ``cuda:N``, ``auto``): it replaces the
    ``device`` of extraction, the segmenter, the learner, self-training, RL and SSL pre-training
    (see :func:`apply_device`); ``""`` leaves each stage's own setting (most default to ``auto``)."""
    layer: int = 0
    """Feature layer to use (0 for MFCC; see unsup_asr.features.featurizer for the numbering)."""
    splits: SplitsConfig = field(default_factory=SplitsConfig)
    """Split names."""
    data: DataConfig = field(default_factory=DataConfig)
    """Corpus preparation."""
    features: Any = MISSING
    """Featurizer config (group ``features``)."""
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    """How features are extracted: sharding, batching, device, extra layers."""
    segmenter: Any = MISSING
    """Segmenter config (group ``segmenter``)."""
    text: TextConfig = field(default_factory=TextConfig)
    """Unpaired text preparation."""
    learner: Any = MISSING
    """Learner config (group ``learner``: ``gan``, ``match`` or a plug-in; see :mod:`gan.learner`)."""
    gan: dict[str, Any] = field(default_factory=dict)
    """Old name of the settings of ``learner=gan``: a recipe's ``gan:`` block is merged into
    ``learner`` (which must then be the GAN) by :func:`unsup_asr.cli.load_config`. Use ``learner.*``."""
    self_train: SelfTrainConfig = field(default_factory=SelfTrainConfig)
    """Self-training rounds after the learner (``self_train.students=[]``: none)."""
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    """Decoding."""
    score: ScoreConfig = field(default_factory=ScoreConfig)
    """Scoring."""
    rl: RlConfig = field(default_factory=RlConfig)
    """RL boundary segmenter and GAN re-training iterations (``uasr rl-iterate``; not part of ``all``)."""
    refine: RefineConfig = field(default_factory=RefineConfig)
    """Boundary refinement iterations (``uasr refine``; not part of ``all``)."""
    ssl: SslConfig = field(default_factory=SslConfig)
    """Pre-training of the library's own SSL model (``uasr ssl-pretrain``; not part of ``all``)."""
    sweep: SweepConfig = field(default_factory=SweepConfig)
    """Layer sweeps (``uasr sweep-layers``)."""
    compare: CompareConfig = field(default_factory=CompareConfig)
    """Segmenter comparison (``uasr compare-segmenters``)."""

    def validate(self) -> None:
        if self.gan:
            raise ValueError("gan.* settings are the old name of learner.* (learner=gan): load the config with "
                             "unsup_asr.cli.load_config, or move them under learner")
        parts = (self.splits, self.data, self.features, self.extract, self.segmenter, self.text, self.learner,
                 self.self_train, self.decode, self.score, self.refine, self.ssl, self.rl, self.sweep, self.compare)
        for part in parts:
            part.validate()


def apply_device(cfg: RunConfig) -> RunConfig:
    """``cfg`` with ``cfg.device`` (when set) copied into every stage config that has a ``device``."""
    if not cfg.device:
        return cfg
    parts = {"extract": cfg.extract, "segmenter": cfg.segmenter, "learner": cfg.learner,
             "self_train": cfg.self_train, "rl": cfg.rl, "ssl": cfg.ssl}
    changes = {name: dataclasses.replace(part, device=cfg.device) for name, part in parts.items()
               if any(f.name == "device" for f in dataclasses.fields(part))}
    return dataclasses.replace(cfg, **changes)


_Config = TypeVar("_Config")


def with_overrides(cfg: _Config, overrides: Sequence[str]) -> _Config:
    """A copy of the config dataclass ``cfg`` with hydra-style ``key=value`` overrides applied
    (dots reach nested configs), typed and checked by OmegaConf like the command line's."""
    merged = OmegaConf.merge(OmegaConf.structured(cfg), OmegaConf.from_dotlist(list(overrides)))
    out: _Config = OmegaConf.to_object(merged)  # type: ignore[assignment]
    return out


def store_configs() -> None:
    """Register ``run`` (the RunConfig schema) in hydra's ConfigStore."""
    ConfigStore.instance().store(name="run", node=RunConfig)
