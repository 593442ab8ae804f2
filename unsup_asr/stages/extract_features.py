"""Stage 1: frame features for every split -> ``out/exp/features/<key>/L<layer>/<split>.*``."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from unsup_asr.config import RunConfig
from unsup_asr.data.audio import load_audio
from unsup_asr.data.manifest import read_manifest
from unsup_asr.features.cache import cache_key, layer_dir, split_done, write_split
from unsup_asr.features.featurizer import FEATURIZERS, Featurizer
from unsup_asr.io import atomic_write_json
from unsup_asr.paths import RunPaths

logger = logging.getLogger(__name__)


def build_featurizer(features_cfg: Any) -> Featurizer:
    """Instantiate the featurizer named by ``features_cfg.name``."""
    entry = FEATURIZERS.get(features_cfg.name)
    return entry.cls(features_cfg)  # type: ignore[call-arg]


INDEX = "index.json"
"""``out/exp/features/index.json``: featurizer config (as JSON) -> cache key, written by this stage,
so that later stages find the cache without loading the model again (an SSL model takes seconds
to minutes to load; its cache key also hashes the model files)."""


def _config_id(features_cfg: Any) -> str:
    return json.dumps(dataclasses.asdict(features_cfg), sort_keys=True)


def features_folder(cfg: RunConfig) -> Path:
    """Cache folder of the configured featurizer and layer (from the index when this config was
    extracted before; otherwise by building the featurizer)."""
    root = RunPaths(Path(cfg.out)).features
    index = root / INDEX
    if index.is_file():
        key = json.loads(index.read_text(encoding="utf-8")).get(_config_id(cfg.features))
        if key:
            return layer_dir(root, key, cfg.layer)
    feat = build_featurizer(cfg.features)
    return layer_dir(root, cache_key(feat.cache_config()), cfg.layer)


def _remember(root: Path, features_cfg: Any, key: str) -> None:
    index = root / INDEX
    entries = json.loads(index.read_text(encoding="utf-8")) if index.is_file() else {}
    if entries.get(_config_id(features_cfg)) != key:
        entries[_config_id(features_cfg)] = key
        atomic_write_json(index, entries)


def _featurize(feat: Featurizer, manifest: Path, layer: int, split: str) -> Iterator[tuple[str, np.ndarray]]:
    utts = read_manifest(manifest)
    for utt in tqdm(utts, desc=f"features {split}", unit="utt", leave=False):
        wav = torch.from_numpy(load_audio(utt.audio))
        try:
            out = feat(wav[None], torch.tensor([wav.shape[0]]), [layer])
        except ValueError as e:
            raise ValueError(f"{utt.audio} (utterance {utt.id}): {e}") from e
        feats, lens = out[layer]
        yield utt.id, feats[0, : int(lens[0])].numpy()


def run(cfg: RunConfig) -> Path:
    cfg.features.validate()
    paths = RunPaths(Path(cfg.out))
    feat = build_featurizer(cfg.features)
    feat.check_layers([cfg.layer])
    conf = feat.cache_config()
    folder = layer_dir(paths.features, cache_key(conf), cfg.layer)
    _remember(paths.features, cfg.features, cache_key(conf))
    meta: dict[str, Any] = {
        "config": conf, "layer": cfg.layer, "dim": feat.dim, "frame_shift_s": feat.frame_shift_s, "dtype": "float16"
    }
    t0 = time.time()
    done = []
    with torch.inference_mode():
        for split in cfg.splits.all():
            if split_done(folder, split):
                continue
            write_split(folder, split, meta, _featurize(feat, paths.manifest(split), cfg.layer, split))
            done.append(split)
    logger.info("[extract_features] %s layer %d, dim %d -> %s (computed %s, %.1f s)", cfg.features.name, cfg.layer,
                feat.dim, folder, done or "nothing: cached", time.time() - t0)
    return folder
