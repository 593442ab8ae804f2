"""Configuration of the library's own SSL model and of its pre-training (``uasr ssl-pretrain``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(kw_only=True)
class SslModelConfig:
    """Architecture of the small SSL model (see :mod:`unsup_asr.ssl.model`)."""

    num_mel_bins: int = 80
    """Log-mel filters of the front end (25 ms windows every 10 ms, two frames stacked -> 20 ms)."""
    dim: int = 256
    """Model dimension of the transformer."""
    num_layers: int = 4
    """Number of transformer blocks (layers 0..num_layers in the featurizer's numbering)."""
    num_heads: int = 4
    """Attention heads per block."""
    ffn_dim: int = 1024
    """Hidden size of each block's feed-forward network."""
    pos_conv_kernel: int = 31
    """Kernel (frames, odd) of the convolutional relative position embedding (wav2vec 2.0 style)."""
    pos_conv_groups: int = 16
    """Groups of the positional convolution."""
    dropout: float = 0.1
    """Dropout in the blocks and after the input projection (training only)."""

    def validate(self) -> None:
        if self.dim % self.num_heads or self.dim % self.pos_conv_groups:
            raise ValueError("ssl.model.dim must be divisible by ssl.model.num_heads and ssl.model.pos_conv_groups")
        if self.num_layers < 1 or self.num_mel_bins < 1 or self.ffn_dim < 1:
            raise ValueError("ssl.model.num_layers, num_mel_bins and ffn_dim must be >= 1")
        if self.pos_conv_kernel < 1 or self.pos_conv_kernel % 2 == 0:
            raise ValueError(f"ssl.model.pos_conv_kernel must be odd, got {self.pos_conv_kernel}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("ssl.model.dropout must be in [0, 1)")


@dataclass(kw_only=True)
class SslIterationConfig:
    """One pre-training iteration: where its k-means targets come from and how long it trains."""

    targets: str = "mfcc"
    """``mfcc``: k-means on MFCC+Δ+ΔΔ frames (HuBERT's first iteration); ``layer``: k-means on
    ``target_layer`` of the previous iteration's model."""
    target_layer: int = 3
    """Layer of the previous iteration's model clustered for targets (``targets=layer``)."""
    num_clusters: int = 100
    """k of the k-means targets."""
    epochs: int = 40
    """Passes over the pre-training audio (the iteration also stops at ``max_seconds``)."""
    max_seconds: float = 1200.0
    """Wall-clock budget of this iteration's training, in seconds (0 = no limit)."""
    init: str = "fresh"
    """``fresh``: a newly initialised model (HuBERT); ``previous``: continue from the previous
    iteration's weights with a new prediction head (keeps what a short first iteration learned)."""

    def validate(self) -> None:
        if self.targets not in ("mfcc", "layer"):
            raise ValueError(f"ssl iteration targets must be 'mfcc' or 'layer', got {self.targets!r}")
        if self.init not in ("fresh", "previous"):
            raise ValueError(f"ssl iteration init must be 'fresh' or 'previous', got {self.init!r}")
        if self.num_clusters < 2 or self.epochs < 1 or self.max_seconds < 0:
            raise ValueError("ssl iteration needs num_clusters >= 2, epochs >= 1 and max_seconds >= 0")


def _default_iterations() -> list[SslIterationConfig]:
    # measured on 1.2 h of real speech (recipes/real_small/RESULTS.md): a fresh second iteration lowered
    # the layers' PNMI after a 25 min first one; continuing from it kept it
    return [SslIterationConfig(targets="mfcc", max_seconds=1500.0),
            SslIterationConfig(targets="layer", target_layer=3, init="previous")]


@dataclass(kw_only=True)
class SslConfig:
    """``uasr ssl-pretrain``: HuBERT-style masked prediction of k-means targets, no labels.

    Reads the manifests of ``splits`` (audio only), writes ``out/exp/ssl/iter<i>/`` and the final
    checkpoint ``out/exp/ssl/model.pt`` (select it with ``features=ssl features.path=...``).
    """

    model: SslModelConfig = field(default_factory=SslModelConfig)
    """Architecture."""
    iterations: list[SslIterationConfig] = field(default_factory=_default_iterations)
    """Pre-training iterations, in order; each starts from a fresh model (as HuBERT) or, with
    ``init: previous``, from the previous iteration's weights."""
    splits: list[str] = field(default_factory=list)
    """Manifest splits of unlabelled audio to pre-train on; ``[]`` = ``splits.train``."""
    monitor_split: str = ""
    """Split whose masked-prediction accuracy is logged each epoch (unsupervised: the targets are
    k-means clusters, not labels); ``""`` = ``splits.valid``."""
    mask_prob: float = 0.08
    """Probability that a frame starts a masked span (HuBERT: 0.08 -> about half the frames)."""
    mask_length: int = 10
    """Masked span length in frames (200 ms)."""
    batch_frames: int = 1000
    """Frames per batch (20 s of audio at 20 ms), utterances grouped by length (on a CPU budget
    more, smaller updates learned better than 80 s batches); per process under ``torchrun``, so an
    update averages ``nproc_per_node x nnodes`` such batches."""
    max_frames: int = 400
    """Utterances longer than this (8 s) are cropped at a random offset for training."""
    lr: float = 1e-3
    """Peak Adam learning rate."""
    warmup_fraction: float = 0.08
    """Fraction of the updates with a linear warm-up; then linear decay to 0."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    clip_norm: float = 5.0
    """Gradient norm clipping."""
    kmeans_max_frames: int = 250_000
    """Frames sampled to fit each k-means (all frames are then labelled)."""
    seed: int = 0
    """Seed of k-means, initialisation, masking and batching."""
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu`` or ``cuda[:i]``."""

    def validate(self) -> None:
        self.model.validate()
        if not self.iterations:
            raise ValueError("ssl.iterations needs at least one iteration")
        for i, it in enumerate(self.iterations):
            it.validate()
            if i == 0 and it.init == "previous":
                raise ValueError("the first ssl iteration has no previous model: use init=fresh")
            if it.targets == "layer":
                if i == 0:
                    raise ValueError("the first ssl iteration has no previous model: use targets=mfcc")
                if not 0 <= it.target_layer <= self.model.num_layers:
                    raise ValueError(f"ssl target_layer {it.target_layer} not in 0..{self.model.num_layers}")
        if not 0.0 < self.mask_prob < 1.0 or self.mask_length < 1:
            raise ValueError("ssl.mask_prob must be in (0, 1) and ssl.mask_length >= 1")
        if self.batch_frames < self.max_frames:
            raise ValueError("ssl.batch_frames must be >= ssl.max_frames")
        if not 0.0 <= self.warmup_fraction < 1.0 or self.lr <= 0:
            raise ValueError("ssl.warmup_fraction must be in [0, 1) and ssl.lr > 0")
