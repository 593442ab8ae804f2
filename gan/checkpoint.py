"""Checkpoints: ``last.pt`` (everything needed to resume) and ``best.pt`` (the selected generator).

Both are written atomically (``torch.save`` to a temporary file, then ``os.replace`` through
:func:`unsup_asr.io.atomic_write`), so a killed run leaves either the previous file or the new one,
never a half-written one; stray temporary files are ignored.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan.config import GanConfig, GeneratorConfig
from gan.discriminator import Discriminator
from gan.generator import Generator
from unsup_asr.io import atomic_write

LAST = "last.pt"
BEST = "best.pt"


@dataclass(kw_only=True)
class TrainingState:
    """Mutable bookkeeping of a training run, saved in ``last.pt``."""

    step: int = 0
    """Updates done (discriminator and generator steps together)."""
    seconds: float = 0.0
    """Wall-clock seconds spent training, over all resumed runs."""
    best_step: int = -1
    """Update count of the best checkpoint so far (-1: none yet)."""
    best_score: float = math.inf
    """Unsupervised selection score of the best checkpoint (lower is better)."""
    history: list[dict[str, float]] = field(default_factory=list)
    """Logged records, each with a ``step`` key."""
    pending: dict[str, list[float]] = field(default_factory=dict)
    """Metrics accumulated since the last history record: name -> [sum, count]."""

    def accumulate(self, logs: dict[str, float]) -> None:
        """Add one update's metrics to ``pending``."""
        for key, value in logs.items():
            acc = self.pending.setdefault(key, [0.0, 0.0])
            acc[0] += value
            acc[1] += 1

    def flush(self) -> None:
        """Append the means of ``pending`` to ``history`` as one record at the current step."""
        self.history.append({"step": float(self.step)} | {k: s / n for k, (s, n) in self.pending.items()})
        self.pending.clear()

    def last_eval_step(self) -> float:
        """Step of the last ``eval/select_score`` record (-1 if none)."""
        return max((r["step"] for r in self.history if "eval/select_score" in r), default=-1.0)


def save_last(
    path: Path,
    *,
    gen: Generator,
    gen_ema: Generator,
    disc: Discriminator,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    state: TrainingState,
    rng: np.random.Generator,
) -> None:
    """Save the models, optimisers, RNG states and ``state`` to ``path`` atomically."""
    payload = {
        "generator": gen.state_dict(),
        "generator_ema": gen_ema.state_dict(),
        "discriminator": disc.state_dict(),
        "opt_g": opt_g.state_dict(),
        "opt_d": opt_d.state_dict(),
        "state": asdict(state),
        "numpy_rng": rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    atomic_write(path, lambda p: torch.save(payload, p))


def load_last(
    path: Path,
    *,
    gen: Generator,
    gen_ema: Generator,
    disc: Discriminator,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    rng: np.random.Generator,
) -> TrainingState:
    """Restore what :func:`save_last` wrote into the given objects and return the state."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        gen.load_state_dict(payload["generator"])
        gen_ema.load_state_dict(payload["generator_ema"])
        disc.load_state_dict(payload["discriminator"])
    except (RuntimeError, KeyError) as err:
        raise RuntimeError(
            f"cannot resume from {path} ({err}): it was written by a different model or config; "
            "delete it (or use a new output folder) to start over"
        ) from err
    opt_g.load_state_dict(payload["opt_g"])
    opt_d.load_state_dict(payload["opt_d"])
    rng.bit_generator.state = payload["numpy_rng"]
    torch.set_rng_state(payload["torch_rng"])
    if payload["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(payload["cuda_rng"])
    return TrainingState(**payload["state"])


def save_best(path: Path, *, gen: Generator, cfg: GanConfig, step: int, score: float) -> None:
    """Save the selected generator with what :func:`load_generator` needs to rebuild it."""
    payload: dict[str, Any] = {
        "generator": {k: v.detach().cpu() for k, v in gen.state_dict().items()},
        "generator_config": asdict(cfg.generator),
        "config": asdict(cfg),
        "input_dim": gen.input_dim,
        "vocab": gen.vocab,
        "step": step,
        "score": score,
    }
    atomic_write(path, lambda p: torch.save(payload, p))


def load_generator(path: Path, map_location: str = "cpu") -> Generator:
    """Rebuild the generator saved by :func:`save_best` (in eval mode)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"generator checkpoint {path} does not exist: train the GAN first (train_gan)")
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if "generator_config" not in payload:
        raise ValueError(f"{path} is not a best.pt generator checkpoint written by gan.checkpoint.save_best")
    gen = Generator(GeneratorConfig(**payload["generator_config"]), payload["input_dim"], payload["vocab"])
    gen.load_state_dict(payload["generator"])
    return gen.to(map_location).eval()
