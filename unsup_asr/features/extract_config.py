"""How the extract_features stage runs: sharding across workers, length batching, device, layers.

None of these fields changes the features themselves (beyond float rounding of padded batches), so
none is part of the feature cache key: shards, batch sizes and devices all fill the same cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(kw_only=True)
class ExtractConfig:
    """Execution settings of feature extraction (``extract.*``)."""

    rank: int = 0
    """This worker's shard, ``0 <= rank < world_size``."""
    world_size: int = 1
    """Number of shards each split is cut into (one worker per shard, e.g. one per cluster job). Rank
    ``r`` featurizes the ``r``-th contiguous share of each split's utterances; whichever worker
    completes the last shard of a split (or any later run) merges the shards into the split's files."""
    batch_seconds: float = 0.0
    """Padded audio per batch in seconds (batch size x longest utterance): utterances are sorted by
    length within bounded windows and batched up to this; 0 = one utterance at a time."""
    device: str = "auto"
    """Where the featurizer runs: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or
    ``cuda:N``. It overrides ``features.device`` of featurizers that have one (hf, w2v2) for the
    extraction; results come back to the CPU as float16."""
    layers: list[int] = field(default_factory=list)
    """Further layers extracted in the same forward pass as ``layer``, each into its own ``L<k>``
    folder (for layer sweeps); ``[]`` = only ``layer``."""

    def validate(self) -> None:
        if self.world_size < 1:
            raise ValueError(f"extract.world_size={self.world_size} must be >= 1")
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"extract.rank={self.rank} must be in 0..{self.world_size - 1} (extract.world_size - 1)")
        if self.batch_seconds < 0:
            raise ValueError(f"extract.batch_seconds={self.batch_seconds} must be >= 0 (0 = one utterance per batch)")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"extract.device={self.device!r} must be 'auto', 'cpu', 'cuda' or 'cuda:N'")
        if any(k < 0 for k in self.layers):
            raise ValueError(f"extract.layers={self.layers} must hold layer indices >= 0")

    def torch_device(self) -> torch.device:
        """The resolved device; ValueError when CUDA is asked for but not available."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        device = torch.device(self.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"extract.device={self.device!r} but CUDA is not available; use 'auto' or 'cpu'")
        return device
