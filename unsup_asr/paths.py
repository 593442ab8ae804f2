"""Where each stage reads and writes, under one output folder (``out/data`` and ``out/exp``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunPaths:
    """All paths of one run, derived from ``out``."""

    out: Path

    @property
    def corpus(self) -> Path:
        """Prepared corpus: manifests ``<split>.jsonl`` and ``unpaired.txt``."""
        return self.out / "data" / "corpus"

    def manifest(self, split: str) -> Path:
        return self.corpus / f"{split}.jsonl"

    @property
    def unpaired_text(self) -> Path:
        return self.corpus / "unpaired.txt"

    @property
    def text(self) -> Path:
        """Phonemised text, phone inventory and phone LM."""
        return self.out / "data" / "text"

    @property
    def features(self) -> Path:
        """Feature cache root (``<key>/L<layer>/``)."""
        return self.out / "exp" / "features"

    def segments(self, segmenter: str) -> Path:
        return self.out / "exp" / "seg" / segmenter

    def learn(self, learner: str) -> Path:
        """A learner's folder (``best.pt``, ``candidates.jsonl``, ...)."""
        return self.out / "exp" / "learn" / learner

    @property
    def self_train(self) -> Path:
        """Self-training rounds (``round<i>/``) and the final model ``best.pt``."""
        return self.out / "exp" / "self_train"

    @property
    def decode(self) -> Path:
        return self.out / "exp" / "decode"

    @property
    def score(self) -> Path:
        return self.out / "score.json"
