"""Phone models: what every learner and self-training round produces, and what decoding reads.

A phone model maps a sequence of input vectors to one phone distribution per input position:
``forward(feats (B, S, D), padding_mask (B, S)) -> logits (B, S, V)``. Its ``unit`` says what the
positions are:

* ``"segment"``: one position per segment of the segment stage (the GAN's and the matching
  learner's generators, the segment student of self-training); the input is the segment embedding;
* ``"frame"``: one position per 20 ms frame of the cached features (the frame student of
  self-training); the input is the cached frame features of the run's layer.

Decoding is the same for both (merge repeats, drop ``<SIL>``; the LM decoders treat ``<SIL>`` as
the CTC blank), so every decoder works with either unit.

Every kind registers a class with ``@PHONE_MODELS.register(kind)``; checkpoints written by
:func:`save_phone_model` carry the kind, the vocabulary, the constructor arguments
(:meth:`PhoneModel.spec`) and the weights, so :func:`load_phone_model` rebuilds any of them.
The GAN's ``best.pt`` files written before this module existed (no ``kind``) load as generators.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from gan.data import pad_features
from unsup_asr.io import atomic_write

UNITS = ("segment", "frame")


class PhoneModel(nn.Module, abc.ABC):
    """Inputs ``(B, S, D)`` -> phone logits ``(B, S, V)``; see the module docstring."""

    kind: ClassVar[str]
    """Registered name of the class (set by :func:`register_phone_model`)."""
    unit: str
    """``"segment"`` or ``"frame"``: what one input position is."""
    vocab: list[str]
    """The ``V`` output phones, ``<SIL>`` included."""
    input_dim: int
    """Input dimension ``D``."""

    @abc.abstractmethod
    def forward(self, feats: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, S, V)``; ``padding_mask (B, S)`` is True at padding."""

    @abc.abstractmethod
    def spec(self) -> dict[str, Any]:
        """JSON-able constructor arguments: ``type(self).from_spec(self.spec())`` rebuilds the model
        (with fresh weights; the state dict restores them)."""

    @classmethod
    @abc.abstractmethod
    def from_spec(cls, spec: dict[str, Any]) -> PhoneModel:
        """Build a model from :meth:`spec`'s output."""


PHONE_MODELS: dict[str, type[PhoneModel]] = {}
"""Registered phone-model kinds: name -> class."""


def register_phone_model(kind: str) -> Callable[[type[PhoneModel]], type[PhoneModel]]:
    """Class decorator: register a :class:`PhoneModel` subclass under ``kind``."""

    def deco(cls: type[PhoneModel]) -> type[PhoneModel]:
        if kind in PHONE_MODELS and PHONE_MODELS[kind] is not cls:
            raise ValueError(f"phone model kind {kind!r} is already registered by {PHONE_MODELS[kind]}")
        cls.kind = kind
        PHONE_MODELS[kind] = cls
        return cls

    return deco


def save_phone_model(path: Path, model: PhoneModel, **meta: Any) -> Path:
    """Write ``model`` atomically to ``path`` with its kind, spec and weights, plus ``meta``
    (JSON-able facts such as the step and the selection score)."""
    payload: dict[str, Any] = {
        "kind": model.kind,
        "unit": model.unit,
        "spec": model.spec(),
        "state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "vocab": list(model.vocab),
        "input_dim": model.input_dim,
        "meta": meta,
    }
    return atomic_write(path, lambda p: torch.save(payload, p))


def read_payload(path: Path) -> dict[str, Any]:
    """The raw checkpoint dictionary (weights-only load; clear errors for missing or foreign files)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"phone model {path} does not exist: run the learn stage (uasr learn) first")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or ("kind" not in payload and "generator_config" not in payload):
        raise ValueError(f"{path} is not a phone model checkpoint written by unsup-asr (gan.phone_model)")
    return payload


def load_phone_model(path: Path, map_location: str = "cpu") -> PhoneModel:
    """Rebuild the phone model saved at ``path`` (in eval mode). Old GAN ``best.pt`` files (no
    ``kind``) load as :class:`gan.generator.Generator`."""
    payload = read_payload(path)
    if "kind" not in payload:
        from gan.checkpoint import load_generator

        return load_generator(path, map_location)
    kind = payload["kind"]
    if kind not in PHONE_MODELS:
        raise ValueError(f"{path} holds a phone model of kind {kind!r}, unknown here; known: {sorted(PHONE_MODELS)}")
    model = PHONE_MODELS[kind].from_spec(payload["spec"])
    model.load_state_dict(payload["state"])
    return model.to(map_location).eval()


@torch.no_grad()
def predict_log_probs(model: nn.Module, feats: list[np.ndarray], batch_size: int = 64) -> list[np.ndarray]:
    """Log-softmax outputs of any phone model, one float32 ``(S_i, V)`` array per input ``(S_i, D)``.

    Utterances are batched in length order (less padding), and returned in input order."""
    if not feats:
        return []
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    order = np.argsort([len(f) for f in feats], kind="stable")
    out: list[np.ndarray] = [np.zeros((0, 0), np.float32)] * len(feats)
    for start in range(0, len(feats), batch_size):
        idx = order[start : start + batch_size]
        chunk = [feats[i] for i in idx]
        x, mask = pad_features(chunk, device)
        log_probs = model(x, mask).log_softmax(-1).float().cpu().numpy()
        for j, i in enumerate(idx):
            out[i] = log_probs[j, : len(feats[i])]
    model.train(was_training)
    return out
