"""Torch device names: the one place that turns a configured device string into a torch device."""

from __future__ import annotations

import torch


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> ``cuda`` when available, else ``cpu``; any other name is a torch device string
    (``cpu``, ``cuda``, ``cuda:N``); a clear error for anything else."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"device {name!r} is not a torch device: use auto, cpu, cuda or cuda:N") from err
