"""Small helpers shared by the stages: completion markers keyed by config, and data loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from unsup_asr.io import DONE, clear_done, is_done
from unsup_asr.paths import RunPaths


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


def model_path(cfg: Any) -> Path:
    """The phone model that decoding and scoring use: self-training's ``best.pt`` when
    ``cfg.self_train.students`` is set, else the learner's ``best.pt``."""
    paths = RunPaths(Path(cfg.out))
    if cfg.self_train.students:
        return paths.self_train / "best.pt"
    return paths.learn(cfg.learner.name) / "best.pt"


def viterbi_config(cfg: Any, unit: str) -> Any:
    """How a model of ``unit`` is Viterbi-decoded: argmax per segment, or a path with
    ``decode.frame_switch_penalty`` per change of phone for frames."""
    from unsup_asr.decode.viterbi import ViterbiConfig

    return ViterbiConfig(switch_penalty=cfg.decode.frame_switch_penalty if unit == "frame" else 0.0)


def model_inputs(cfg: Any, unit: str, split: str) -> tuple[list[str], list[np.ndarray]]:
    """Utterance ids and the inputs a phone model of ``unit`` reads for ``split``: the segment
    stage's embeddings (``segment``) or the cached frame features of the run's layer (``frame``)."""
    from unsup_asr.features.cache import FeatureSet
    from unsup_asr.stages.extract_features import features_folder
    from unsup_asr.stages.segment import load_segments, segments_path

    if unit == "segment":
        segs = load_segments(segments_path(cfg, split))
        return segs.ids, segs.embeddings
    fs = FeatureSet(features_folder(cfg), split)
    return list(fs.ids), [np.asarray(fs[i], dtype=np.float32) for i in range(len(fs))]
