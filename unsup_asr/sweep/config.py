"""Configuration of ``uasr sweep-layers`` (:mod:`unsup_asr.sweep.run`) and ``uasr compare-segmenters``
(:mod:`unsup_asr.sweep.compare`)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(kw_only=True)
class SweepConfig:
    """Layer (and seed) sweeps: what is written where and which diagnostic is computed per layer."""

    name: str = "layers"
    """The sweep's folder: ``out/sweep/<name>/`` (one sub-folder per job, ``sweep.csv``, ``sweep.png``)."""
    pnmi_split: str = ""
    """Split with gold phone alignments on which k-means clusters of each layer are scored (phone
    purity, PNMI; labels only score, never fit or select); ``""`` = ``splits.test`` when it has
    alignments, else no PNMI; ``none`` = skip."""
    pnmi_clusters: int = 100
    """k of the per-layer k-means (HuBERT's analyses use 100-500)."""
    pnmi_max_frames: int = 100_000
    """Training frames sampled to fit each per-layer k-means."""

    def validate(self) -> None:
        if not self.name or "/" in self.name:
            raise ValueError(f"sweep.name={self.name!r} must be a non-empty folder name")
        if self.pnmi_clusters < 2 or self.pnmi_max_frames < self.pnmi_clusters:
            raise ValueError("sweep.pnmi_clusters must be >= 2 and sweep.pnmi_max_frames >= sweep.pnmi_clusters")


@dataclass(kw_only=True)
class CompareConfig:
    """``uasr compare-segmenters``: several segmenters on one run's features, in one table."""

    segmenters: list[str] = field(default_factory=lambda: ["recipe", "uniform", "sawv"])
    """Segmenters as ``name[:key=value,...]``: ``name`` is a ``segmenter`` config option (a registered
    segmenter, or a recipe's ``conf/segmenter/*.yaml``), ``key=value`` set its fields (e.g.
    ``uniform:frames=5``, ``rl:policy=out/exp/rl/iter2/policy.pt``); ``recipe`` is the run's own."""
    name: str = "segmenters"
    """Folder: ``out/compare/<name>/`` (one sub-folder per segmenter, ``compare.csv``, ``compare.md``,
    ``boundaries.png``)."""
    split: str = ""
    """Split with gold phone alignments whose boundaries are scored; ``""`` = ``splits.test``."""
    gan: bool = False
    """Also run the learner (``learner=...``, the GAN by default; the name is historical) and
    self-training on each segmenter's segments, then decode + score (PER/WER columns)."""
    plot_utterances: int = 3
    """Utterances of ``split`` drawn with every segmenter's boundaries over their spectrogram."""

    def validate(self) -> None:
        if not self.segmenters:
            raise ValueError("compare.segmenters is empty: name at least one segmenter")
        if not self.name or "/" in self.name:
            raise ValueError(f"compare.name={self.name!r} must be a non-empty folder name")
        if self.plot_utterances < 0:
            raise ValueError("compare.plot_utterances must be >= 0")
