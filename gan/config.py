"""Configuration of the GAN: generator, discriminator and training schedule.

The defaults are the CPU recipe measured on the synthetic decipherment benchmark
(``benchmarks/decipher.py``: PER about 5 % in about 2-3 minutes on 2 cores). What matters, from
its ablations: cluster-posterior generator inputs (``generator.num_clusters``), straight-through
one-hot outputs, the gradient penalty, a slow generator (``lr_generator`` 10x below
``lr_discriminator``), small batches (many cheap updates) and an EMA of the generator for
evaluation and selection.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(kw_only=True)
class GeneratorConfig:
    """Generator: segment embeddings ``(B,S,D)`` -> phone logits ``(B,S,V)``."""

    kernel_size: int = 1
    """Width (in segments) of the Conv1d; odd widths are centred, even ones lean right (wav2vec-U: 4)."""
    input_norm: bool = True
    """LayerNorm (without affine parameters) on each input segment embedding."""
    num_clusters: int = 64
    """0: map the (normalised) embeddings directly. K > 0: map their k-means cluster posteriors
    (K centroids fitted on the training segments before training), so that all segments of a
    cluster get the same output. Without it the generator learns to imitate the text's phone
    frequencies by turning within-cluster noise into random phones, and rarely escapes."""
    cluster_temperature: float = 0.0
    """Softness of the cluster posteriors, relative to the mean squared distance per dimension
    (0: hard one-hot assignment)."""
    input_dropout: float = 0.0
    """Dropout on the Conv1d's input during training."""
    bias: bool = False
    """Whether the Conv1d has a bias."""
    init_std: float = 0.01
    """Standard deviation of the Conv1d's initial weights (small: near-uniform initial outputs)."""

    def validate(self) -> None:
        """Raise ValueError on an invalid setting."""
        if self.kernel_size < 1:
            raise ValueError(f"generator.kernel_size must be >= 1, got {self.kernel_size}")
        if not 0.0 <= self.input_dropout < 1.0:
            raise ValueError(f"generator.input_dropout must be in [0, 1), got {self.input_dropout}")
        if self.num_clusters < 0 or self.cluster_temperature < 0:
            raise ValueError("generator.num_clusters and generator.cluster_temperature must be >= 0")
        if self.init_std <= 0:
            raise ValueError(f"generator.init_std must be > 0, got {self.init_std}")


@dataclass(kw_only=True)
class DiscriminatorConfig:
    """Discriminator: phone distributions ``(B,S,V)`` -> one real/fake logit per sequence."""

    hidden: int = 64
    """Channels of the hidden Conv1d layers."""
    kernel_size: int = 5
    """Width (in segments) of every Conv1d ('same' padding); must be odd."""
    num_layers: int = 2
    """Number of hidden Conv1d layers (the output layer comes on top)."""
    dropout: float = 0.0
    """Dropout after each hidden layer (costly on CPU; it did not help)."""

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
    """Adversarial training of a generator against a discriminator on unpaired phone text
    (``learner=gan``)."""

    name: str = "gan"
    """Registry name of the learner."""
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    """Generator architecture."""
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    """Discriminator architecture."""
    num_updates: int = 5000
    """Parameter updates of each run (discriminator and generator steps together)."""
    batch_size: int = 64
    """Sequences per batch, for audio and for text."""
    lr_generator: float = 3e-4
    """Adam learning rate of the generator."""
    lr_discriminator: float = 3e-3
    """Adam learning rate of the discriminator."""
    betas: tuple[float, float] = (0.5, 0.98)
    """Adam betas of both optimisers."""
    discriminator_steps: int = 1
    """Discriminator steps in each alternation cycle."""
    generator_steps: int = 1
    """Generator steps in each alternation cycle (they follow the discriminator steps)."""
    straight_through: bool = True
    """Feed the discriminator one-hot argmax outputs with softmax gradients (straight-through),
    so it cannot separate real from fake by how peaked the distributions are."""
    gradient_penalty: float = 1.0
    """Weight of the per-sample gradient penalty on real/fake interpolates (0 disables it)."""
    code_penalty: float = 0.5
    """Weight of the code (diversity) penalty ``(V - exp(H(mean softmax))) / V``."""
    code_penalty_decay_updates: int = 4000
    """Updates over which the code penalty decays linearly to 0 (0 keeps it constant): it guards
    against collapse early on but pushes towards uniform phone usage, which text does not have."""
    smoothness_weight: float = 0.0
    """Weight of the mean squared difference of consecutive logits (useful when segments are
    shorter than phones; 0 for phone-level segments)."""
    ema_decay: float = 0.995
    """Decay of an exponential moving average of the generator's weights, updated after every
    generator step; when > 0, evaluation and ``best.pt`` use the average (smooths the GAN's
    oscillations). 0 evaluates the raw generator."""
    eval_every: int = 250
    """Updates between two evaluations of the unsupervised selection score on ``valid``."""
    checkpoint_every: int = 1000
    """Updates between two saves of ``last.pt`` (for resuming)."""
    log_every: int = 10
    """Updates averaged into one history record."""
    seed: int = 0
    """Seed of clustering, initialisation, batching and dropout."""
    num_seeds: int = 3
    """Independent runs (seeds ``seed``, ``seed + 1``, ...), each with ``max_seconds / num_seeds``;
    the run whose selected checkpoint has the lowest *unsupervised* selection score wins (see
    :mod:`gan.restarts`). GAN training fails on some seeds; the label-free score tells which."""
    device: str = "auto"
    """Torch device; ``"auto"`` picks ``cuda`` when available, else ``cpu``."""
    max_seconds: float = 0.0
    """Wall-clock limit of training in seconds, summed over resumed runs and over the
    ``num_seeds`` runs (0 = no limit)."""

    def validate(self) -> None:
        """Raise ValueError on an invalid setting (nested configs included)."""
        self.generator.validate()
        self.discriminator.validate()
        positive = {
            "num_updates": self.num_updates,
            "batch_size": self.batch_size,
            "discriminator_steps": self.discriminator_steps,
            "generator_steps": self.generator_steps,
            "num_seeds": self.num_seeds,
            "eval_every": self.eval_every,
            "checkpoint_every": self.checkpoint_every,
            "log_every": self.log_every,
        }
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"GanConfig.{name} must be >= 1, got {value}")
        if self.lr_generator <= 0 or self.lr_discriminator <= 0:
            raise ValueError("GanConfig.lr_generator and lr_discriminator must be > 0")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"GanConfig.betas must be two numbers in [0, 1), got {self.betas}")
        nonnegative = (
            "gradient_penalty",
            "code_penalty",
            "code_penalty_decay_updates",
            "smoothness_weight",
            "max_seconds",
        )
        for name in nonnegative:
            if getattr(self, name) < 0:
                raise ValueError(f"GanConfig.{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"GanConfig.ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.device != "auto":
            try:
                torch.device(self.device)
            except RuntimeError as err:
                raise ValueError(
                    f"GanConfig.device {self.device!r} is not a torch device: use auto, cpu or cuda"
                ) from err

    def is_discriminator_step(self, step: int) -> bool:
        """Whether update ``step`` (0-based) trains the discriminator (else the generator)."""
        return step % (self.discriminator_steps + self.generator_steps) < self.discriminator_steps

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
