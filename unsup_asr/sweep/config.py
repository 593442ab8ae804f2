"""Configuration of ``uasr sweep-layers`` (:mod:`unsup_asr.sweep.run`)."""

from __future__ import annotations

from dataclasses import dataclass


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
