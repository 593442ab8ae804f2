"""Configuration of the GAN: generator, discriminator and training schedule.

The defaults are the CPU recipe measured on the synthetic decipherment benchmark
(``benchmarks/decipher.py``); the issue notes in ``gan/README``-style docstrings of
:mod:`gan.trainer` explain which ingredients matter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(kw_only=True)
class GeneratorConfig:
    """Generator: segment embeddings ``(B,S,D)`` -> phone logits ``(B,S,V)``."""

    kernel_size: int = 1
    """Width (in segments) of the Conv1d mapping; odd widths are centred ('same' padding)."""
    input_norm: bool = True
    """LayerNorm (without affine parameters) on each input segment embedding."""
    input_dropout: float = 0.1
    """Dropout on the input embeddings during training."""
    bias: bool = False
    """Whether the Conv1d has a bias."""
    kmeans_init: bool = True
    """Initialise the Conv1d's centre tap with k-means centroids of the training segments (one
    cluster per phone, random order; see :func:`gan.generator.kmeans_init`) instead of randomly."""

    def validate(self) -> None:
        """Raise ValueError on an invalid setting."""
        if self.kernel_size < 1:
            raise ValueError(f"generator.kernel_size must be >= 1, got {self.kernel_size}")
        if not 0.0 <= self.input_dropout < 1.0:
            raise ValueError(f"generator.input_dropout must be in [0, 1), got {self.input_dropout}")


@dataclass(kw_only=True)
class DiscriminatorConfig:
    """Discriminator: phone distributions ``(B,S,V)`` -> one real/fake logit per sequence."""

    hidden: int = 128
    """Channels of the hidden Conv1d layers."""
    kernel_size: int = 5
    """Width (in segments) of every Conv1d ('same' padding)."""
    num_layers: int = 2
    """Number of hidden Conv1d layers (the output layer comes on top)."""
    dropout: float = 0.1
    """Dropout after each hidden layer."""

    def validate(self) -> None:
        """Raise ValueError on an invalid setting."""
        if self.hidden < 1 or self.num_layers < 1:
            raise ValueError("discriminator.hidden and discriminator.num_layers must be >= 1")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"discriminator.kernel_size must be odd and >= 1, got {self.kernel_size}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"discriminator.dropout must be in [0, 1), got {self.dropout}")


@dataclass(kw_only=True)
class GanConfig:
    """Adversarial training of a generator against a discriminator on unpaired phone text."""

    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    """Generator architecture."""
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    """Discriminator architecture."""
    num_updates: int = 6000
    """Total parameter updates (discriminator and generator steps together)."""
    batch_size: int = 128
    """Sequences per batch, for audio and for text."""
    lr_generator: float = 1e-3
    """Adam learning rate of the generator."""
    lr_discriminator: float = 1e-3
    """Adam learning rate of the discriminator."""
    betas: tuple[float, float] = (0.5, 0.98)
    """Adam betas of both optimisers."""
    loss: str = "bce"
    """Adversarial loss: ``"bce"`` (non-saturating GAN) or ``"wasserstein"`` (WGAN critic)."""
    discriminator_steps: int = 1
    """Discriminator steps in each alternation cycle."""
    generator_steps: int = 1
    """Generator steps in each alternation cycle (they follow the discriminator steps)."""
    discriminator_warmup: int = 0
    """Initial updates that train only the discriminator (they count towards ``num_updates``)."""
    straight_through: bool = True
    """Feed the discriminator one-hot argmax outputs with softmax gradients (straight-through),
    so it cannot separate real from fake by how peaked the distributions are."""
    gradient_penalty: float = 1.0
    """Weight of the per-sample gradient penalty on real/fake interpolates (0 disables it)."""
    code_penalty: float = 2.0
    """Weight of the code (diversity) penalty ``(V - exp(H(mean softmax))) / V``."""
    code_penalty_decay_updates: int = 0
    """Updates over which the code penalty decays linearly to 0 (0 keeps it constant): it prevents
    collapse early on but pushes towards uniform phone usage, which real text does not have."""
    smoothness_weight: float = 0.0
    """Weight of the mean squared difference of consecutive logits."""
    entropy_weight: float = 0.0
    """Optional auxiliary unsupervised loss: weight of the mean per-segment entropy of the
    generator's softmax (confident outputs; with the code penalty this is RIM-style clustering)."""
    unigram_weight: float = 0.0
    """Optional auxiliary unsupervised loss: weight of KL(text unigram || batch-mean generator
    distribution). 0 keeps training purely adversarial."""
    bigram_weight: float = 0.0
    """Optional auxiliary unsupervised loss: weight of KL(text bigram || expected generator bigram)
    (EODM). 0 keeps training purely adversarial."""
    eval_every: int = 250
    """Updates between two evaluations of the unsupervised selection score on ``valid``."""
    checkpoint_every: int = 500
    """Updates between two saves of ``last.pt`` (for resuming)."""
    log_every: int = 10
    """Updates between two history records."""
    seed: int = 0
    """Seed of initialisation, batching and dropout."""
    device: str = "auto"
    """Torch device; ``"auto"`` picks ``cuda`` when available, else ``cpu``."""
    max_seconds: float = 0.0
    """Wall-clock limit of training in seconds, summed over resumed runs (0 = no limit)."""

    def validate(self) -> None:
        """Raise ValueError on an invalid setting (nested configs included)."""
        self.generator.validate()
        self.discriminator.validate()
        positive = {
            "num_updates": self.num_updates,
            "batch_size": self.batch_size,
            "eval_every": self.eval_every,
            "checkpoint_every": self.checkpoint_every,
            "log_every": self.log_every,
            "discriminator_steps": self.discriminator_steps,
            "generator_steps": self.generator_steps,
        }
        if self.loss not in ("bce", "wasserstein"):
            raise ValueError(f"GanConfig.loss must be 'bce' or 'wasserstein', got {self.loss!r}")
        if self.discriminator_warmup < 0:
            raise ValueError(f"GanConfig.discriminator_warmup must be >= 0, got {self.discriminator_warmup}")
        if self.code_penalty_decay_updates < 0:
            raise ValueError(
                f"GanConfig.code_penalty_decay_updates must be >= 0, got {self.code_penalty_decay_updates}"
            )
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"GanConfig.{name} must be >= 1, got {value}")
        if self.lr_generator <= 0 or self.lr_discriminator <= 0:
            raise ValueError("GanConfig learning rates must be > 0")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"GanConfig.betas must be two numbers in [0, 1), got {self.betas}")
        for name in ("gradient_penalty", "code_penalty", "smoothness_weight", "entropy_weight", "unigram_weight",
                     "bigram_weight", "max_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"GanConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.device != "auto":
            try:
                torch.device(self.device)
            except RuntimeError as err:
                raise ValueError(f"GanConfig.device {self.device!r} is not a torch device: use auto/cpu/cuda") from err

    def is_discriminator_step(self, step: int) -> bool:
        """Whether update ``step`` (0-based) trains the discriminator (else the generator)."""
        if step < self.discriminator_warmup:
            return True
        return (step - self.discriminator_warmup) % (self.discriminator_steps + self.generator_steps) < (
            self.discriminator_steps
        )

    def code_penalty_at(self, step: int) -> float:
        """Code-penalty weight at update ``step`` (after the linear decay, if any)."""
        if not self.code_penalty_decay_updates:
            return self.code_penalty
        return self.code_penalty * max(0.0, 1.0 - step / self.code_penalty_decay_updates)

    def resolved_device(self) -> torch.device:
        """The torch device to train on (``auto`` -> cuda if available, else cpu)."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)
