"""Small helpers shared by the stages: completion markers keyed by config, and data loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from unsup_asr.io import DONE, clear_done, is_done


def up_to_date(folder: Path, info: dict[str, Any]) -> bool:
    """True if ``folder`` was completed with exactly ``info``; otherwise clears a stale marker."""
    if is_done(folder):
        old = json.loads((folder / DONE).read_text())
        if old == json.loads(json.dumps(info)):
            return True
        clear_done(folder)
    return False


def read_vocab(text_dir: Path) -> list[str]:
    """Phone inventory written by prepare_text (one phone per line, ``<SIL>`` included)."""
    path = text_dir / "vocab.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; run the prepare_text stage first")
    return path.read_text(encoding="utf-8").split()


def read_text_ids(text_dir: Path, vocab: list[str]) -> list[np.ndarray]:
    """Unpaired phone sentences (with silences) as int64 id arrays."""
    index = {p: i for i, p in enumerate(vocab)}
    lines = (text_dir / "phones.txt").read_text(encoding="utf-8").splitlines()
    return [np.asarray([index[p] for p in line.split()], dtype=np.int64) for line in lines if line.strip()]
