"""Configuration of the RL boundary segmenter and of the iterative training (``cfg.rl``).

Kept free of torch and of the rest of the library so that :mod:`unsup_asr.config` can nest it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(kw_only=True)
class PolicyConfig:
    """The CNN boundary policy: standardized frame features ``(B,T,D)`` -> boundary logits ``(B,T)``."""

    hidden: int = 64
    """Channels of every hidden Conv1d layer."""
    kernel_size: int = 5
    """Width in frames (20 ms each) of every Conv1d layer ('same' padding); must be odd."""
    num_layers: int = 3
    """Hidden Conv1d layers (a width-1 output layer comes on top); the receptive field is
    ``num_layers * (kernel_size - 1) + 1`` frames."""

    def validate(self) -> None:
        """Raise ValueError on an invalid setting."""
        if self.hidden < 1 or self.num_layers < 1:
            raise ValueError(f"rl.policy.hidden and rl.policy.num_layers must be >= 1, got {self.hidden}, "
                             f"{self.num_layers}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"rl.policy.kernel_size must be odd and >= 1, got {self.kernel_size}")


@dataclass(kw_only=True)
class RewardConfig:
    """Coefficients of the reward (see :mod:`segmentation.rl.reward`); a coefficient of 0 removes its term.

    ``reward = -(ppl * ppl_term + edit * edit_term + length * length_term)``; every term is 0 when the
    transcription equals the previous iteration's, so the reward is relative to it.
    """

    ppl: float = 1.0
    """Weight of the relative change of the utterance's phone-LM perplexity against the previous
    transcription's (clipped to +-``ppl_clip``; negative = more text-like = rewarded)."""
    edit: float = 0.2
    """Weight of the edit distance to the previous transcription, divided by its length."""
    length: float = 0.2
    """Weight of ``|len / previous len - 1|``, the relative change of the transcription's length."""
    ppl_clip: float = 1.0
    """Clip of the relative perplexity change (REBORN clips its perplexity difference too)."""

    def validate(self) -> None:
        """Raise ValueError on an invalid setting."""
        for name in ("ppl", "edit", "length"):
            if getattr(self, name) < 0:
                raise ValueError(f"rl.reward.{name} must be >= 0, got {getattr(self, name)}")
        if self.ppl_clip <= 0:
            raise ValueError(f"rl.reward.ppl_clip must be > 0, got {self.ppl_clip}")


@dataclass(kw_only=True)
class RlConfig:
    """REBORN-style iterations: RL segmenter against the fixed current GAN, then GAN re-training.

    The defaults keep one iteration of the demo recipe under 10 minutes on one CPU core.
    """

    iterations: int = 2
    """Segmenter-then-GAN iterations."""
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    """Policy architecture."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    """Reward coefficients."""
    bc_epochs: int = 10
    """Behaviour-cloning epochs over the training utterances, on the previous iteration's boundaries
    (the k-means-join ones for the first iteration)."""
    bc_batch_size: int = 32
    """Utterances per behaviour-cloning step."""
    bc_lr: float = 3e-3
    """Adam learning rate of behaviour cloning."""
    rl_updates: int = 2000
    """Policy-gradient updates per iteration (at most; see ``rl_max_seconds``)."""
    rl_max_seconds: float = 150.0
    """Wall-clock limit of the policy-gradient phase per iteration in seconds (0 = no limit)."""
    batch_size: int = 16
    """Training utterances per policy-gradient update."""
    samples_per_utterance: int = 4
    """Segmentations sampled per utterance; each one's baseline is the mean reward of the others
    (leave-one-out). With 1, the baseline is the batch mean."""
    lr: float = 1e-4
    """Adam learning rate of the policy-gradient phase."""
    entropy_coef: float = 0.01
    """Weight of the entropy bonus (mean Bernoulli entropy per frame, in nats)."""
    clip_coef: float = 0.2
    """PPO ratio clip; with ``update_epochs=1`` the ratio is 1 and the update is REINFORCE with a baseline."""
    update_epochs: int = 1
    """Gradient steps on each collected batch (PPO epochs)."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip of both phases."""
    threshold: float = 0.5
    """Boundary probability above which a frame starts a segment when segmenting (deterministic)."""
    log_every: int = 50
    """Policy-gradient updates averaged into one logged record."""
    gan_num_updates: int = 3000
    """GAN re-training updates per iteration when ``learner=gan`` (the other settings are the run's)."""
    gan_max_seconds: float = 240.0
    """Wall-clock limit of the GAN re-training per iteration in seconds (0 = no limit)."""
    gan_num_seeds: int = 1
    """GAN re-training seeds per iteration, all initialised from the previous generator."""
    gan_overrides: list[str] = field(default_factory=list)
    """Further changes of the run's learner config (``learner.*``, whatever the learner) for the
    re-training only, as ``key=value`` strings (on the command line:
    ``'rl.gan_overrides=["code_penalty=0"]'``); empty = the run's learner settings."""
    device: str = "auto"
    """Torch device of the policy and the generator; ``"auto"`` picks ``cuda`` when available."""
    seed: int = 0
    """Seed of the policy initialisation, batching and sampling (iteration ``i`` uses ``seed + i``)."""

    def validate(self) -> None:
        """Raise ValueError on an invalid setting (nested configs included)."""
        self.policy.validate()
        self.reward.validate()
        positive = ("iterations", "bc_batch_size", "batch_size", "samples_per_utterance", "update_epochs",
                    "log_every", "gan_num_updates", "gan_num_seeds")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"rl.{name} must be >= 1, got {getattr(self, name)}")
        nonnegative = ("bc_epochs", "rl_updates", "rl_max_seconds", "entropy_coef", "gan_max_seconds")
        for name in nonnegative:
            if getattr(self, name) < 0:
                raise ValueError(f"rl.{name} must be >= 0, got {getattr(self, name)}")
        if self.bc_lr <= 0 or self.lr <= 0 or self.max_grad_norm <= 0 or self.clip_coef <= 0:
            raise ValueError("rl.bc_lr, rl.lr, rl.max_grad_norm and rl.clip_coef must be > 0")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"rl.threshold must be in (0, 1), got {self.threshold}")
        bad = [o for o in self.gan_overrides if "=" not in o]
        if bad:
            raise ValueError(f"rl.gan_overrides entries must be key=value (fields of the learner's config), got {bad}")
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise ValueError(f"rl.device must be auto, cpu or cuda[:N], got {self.device!r}")
