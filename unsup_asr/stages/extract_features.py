"""Stage 1: frame features for every split -> ``out/exp/features/<key>/L<layer>/<split>.*``.

Every requested layer (``layer`` plus ``extract.layers``) comes from **one** forward pass per batch
and goes to its own ``L<k>`` folder. With ``extract.batch_seconds > 0`` utterances are sorted by
length within windows of about :data:`SORT_WINDOW_BATCHES` batches and packed into padded batches
of at most that much audio; each window's features are then written in manifest order, so memory
stays bounded and the files are the same as one utterance at a time (up to float rounding).
With ``extract.world_size > 1`` this worker featurizes only shard ``extract.rank`` of each split
(:func:`unsup_asr.features.cache.shard_range`); the worker that completes a split's last shard, or
any later run, merges the shards (:func:`unsup_asr.features.cache.merge_shards`). Finished splits
and shards are skipped on re-runs; a killed extraction leaves nothing that looks finished.

With voice activity detection (``data.vad.enabled``) each utterance is featurized on its kept
speech regions only (:func:`unsup_asr.data.audio.load_utterance`), and the VAD settings are part of
the cache key, so caches with and without (or with other) silence removal never mix.
"""

from __future__ import annotations

import contextlib
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
from unsup_asr.data.audio import load_utterance
from unsup_asr.data.manifest import Utterance, read_manifest
from unsup_asr.data.timemap import TimeMap
from unsup_asr.features.cache import (
    SplitWriter,
    cache_key,
    layer_dir,
    merge_shards,
    shard_done,
    shard_name,
    shard_range,
    split_done,
)
from unsup_asr.features.featurizer import FEATURIZERS, Featurizer
from unsup_asr.features.frames import SAMPLE_RATE
from unsup_asr.io import atomic_write_json
from unsup_asr.paths import RunPaths
from unsup_asr.stages.prepare_data import recorded_vad

logger = logging.getLogger(__name__)

SORT_WINDOW_BATCHES = 8
"""Utterances are sorted by length within consecutive windows of about this many batches of audio
(``extract.batch_seconds`` each); a window's features are held in memory until written in order."""


def build_featurizer(features_cfg: Any) -> Featurizer:
    """Instantiate the featurizer named by ``features_cfg.name``."""
    entry = FEATURIZERS.get(features_cfg.name)
    return entry.cls(features_cfg)  # type: ignore[call-arg]


INDEX = "index.json"
"""``out/exp/features/index.json``: featurizer config (as JSON) -> cache key, written by this stage,
so that later stages find the cache without loading the model again (an SSL model takes seconds
to minutes to load; its cache key also hashes the model files)."""


def config_id(cfg: RunConfig) -> str:
    """Identity of the featurizer config (and VAD settings when on) whose layers share one cache entry."""
    ident = dataclasses.asdict(cfg.features)
    if cfg.data.vad.enabled:
        ident["data.vad"] = dataclasses.asdict(cfg.data.vad)
    return json.dumps(ident, sort_keys=True)


def _cache_config(feat: Featurizer, cfg: RunConfig) -> dict[str, Any]:
    """What determines the cached features: the featurizer's config, plus the VAD settings when on."""
    conf = feat.cache_config()
    if cfg.data.vad.enabled:
        conf = {**conf, "vad": dataclasses.asdict(cfg.data.vad)}
    return conf


def features_folder(cfg: RunConfig) -> Path:
    """Cache folder of the configured featurizer and layer (from the index when this config was
    extracted before; otherwise by building the featurizer)."""
    root = RunPaths(Path(cfg.out)).features
    index = root / INDEX
    if index.is_file():
        key = json.loads(index.read_text(encoding="utf-8")).get(config_id(cfg))
        if key:
            return layer_dir(root, key, cfg.layer)
    feat = build_featurizer(cfg.features)
    return layer_dir(root, cache_key(_cache_config(feat, cfg)), cfg.layer)


def _remember(root: Path, cfg: RunConfig, key: str) -> None:
    index = root / INDEX
    entries = json.loads(index.read_text(encoding="utf-8")) if index.is_file() else {}
    if entries.get(config_id(cfg)) != key:
        entries[config_id(cfg)] = key
        atomic_write_json(index, entries)


def _check_vad(cfg: RunConfig, manifest: Path, utts: list[Utterance]) -> None:
    """The manifest's speech regions must come from the configured VAD (or be absent without VAD)."""
    vad = cfg.data.vad
    with_regions = sum(u.speech is not None for u in utts)
    if vad.enabled:
        recorded = recorded_vad(manifest.parent)
        if with_regions < len(utts) or recorded != dataclasses.asdict(vad):
            raise ValueError(
                f"{manifest}: data.vad.enabled=true but the manifest's speech regions were not made with these "
                f"settings ({with_regions}/{len(utts)} utterances have regions; recorded VAD settings {recorded}); "
                "re-run prepare_data with the same data.vad settings"
            )
    elif with_regions:
        raise ValueError(
            f"{manifest}: {with_regions} utterances carry VAD speech regions but data.vad.enabled=false; re-run "
            "prepare_data (it removes them) or set data.vad.enabled=true"
        )


def _num_samples(utt: Utterance) -> int:
    """Samples at 16 kHz the featurizer will see (kept audio with VAD); for planning batches only."""
    kept = TimeMap.of(utt).kept_duration_s
    seconds = utt.duration_s if kept is None else kept
    return round(seconds * SAMPLE_RATE)


def plan_batches(lengths: list[int], batch_samples: int) -> Iterator[list[list[int]]]:
    """Windows of batches of utterance indices, in manifest order window by window.

    Each window holds consecutive utterances totalling about ``SORT_WINDOW_BATCHES * batch_samples``
    samples; inside it they are sorted longest first and packed greedily into batches whose padded
    size (count x longest) stays within ``batch_samples`` (an utterance longer than that is a batch
    alone). ``batch_samples <= 0``: one utterance per batch and per window, in order.
    """
    if batch_samples <= 0:
        for i in range(len(lengths)):
            yield [[i]]
        return
    start = 0
    while start < len(lengths):
        stop, total = start, 0
        while stop < len(lengths) and (stop == start or total < SORT_WINDOW_BATCHES * batch_samples):
            total += lengths[stop]
            stop += 1
        order = sorted(range(start, stop), key=lambda i: (-lengths[i], i))
        batches: list[list[int]] = []
        for i in order:
            if batches and (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= batch_samples:
                batches[-1].append(i)
            else:
                batches.append([i])
        yield batches
        start = stop


def _run_batch(feat: Featurizer, utts: list[Utterance], layers: list[int],
               device: torch.device) -> list[dict[int, np.ndarray]]:
    """Features ``{layer: (T_i, D) float16}`` of each utterance of one padded batch."""
    wavs = [torch.from_numpy(load_utterance(u)) for u in utts]
    wav_lens = torch.tensor([w.shape[0] for w in wavs], dtype=torch.long)
    batch = torch.zeros(len(wavs), int(wav_lens.max()))
    for i, w in enumerate(wavs):
        batch[i, : w.shape[0]] = w
    try:
        out = feat(batch.to(device), wav_lens, layers)
    except ValueError as e:
        if len(utts) == 1:
            raise ValueError(f"{utts[0].audio} (utterance {utts[0].id}): {e}") from e
        for u in utts:  # find the utterance at fault; raises with its name
            _run_batch(feat, [u], layers, device)
        raise
    results: list[dict[int, np.ndarray]] = [{} for _ in utts]
    for k in layers:
        feats, lens = out[k]
        for i, n in enumerate(lens.tolist()):
            results[i][k] = feats[i, :n].to("cpu", torch.float16).numpy()
    return results


def _featurize(feat: Featurizer, utts: list[Utterance], layers: list[int], batch_seconds: float,
               device: torch.device, desc: str) -> Iterator[tuple[str, dict[int, np.ndarray]]]:
    """``(utt_id, {layer: (T, D) float16})`` for every utterance, in the order of ``utts``."""
    lengths = [_num_samples(u) for u in utts]
    with tqdm(total=len(utts), desc=desc, unit="utt", leave=False) as bar:
        for window in plan_batches(lengths, round(batch_seconds * SAMPLE_RATE)):
            done: dict[int, dict[int, np.ndarray]] = {}
            for batch in window:
                done.update(zip(batch, _run_batch(feat, [utts[i] for i in batch], layers, device), strict=True))
                bar.update(len(batch))
            for i in sorted(done):
                yield utts[i].id, done[i]


def _extract_split(cfg: RunConfig, feat: Featurizer, folders: dict[int, Path], metas: dict[int, dict[str, Any]],
                   split: str, device: torch.device) -> bool:
    """Featurize this worker's part of ``split`` into every layer folder that lacks it; merge shards
    when they are all done. True if anything was computed."""
    ext = cfg.extract
    manifest = RunPaths(Path(cfg.out)).manifest(split)
    utts = read_manifest(manifest)
    _check_vad(cfg, manifest, utts)
    lo, hi = shard_range(len(utts), ext.rank, ext.world_size)
    part = utts[lo:hi]
    stem = split if ext.world_size == 1 else shard_name(split, ext.rank, ext.world_size)

    def finished(folder: Path) -> bool:
        if split_done(folder, split):
            return True
        return ext.world_size > 1 and shard_done(folder, split, ext.rank, ext.world_size, [u.id for u in part])

    todo = [k for k in folders if not finished(folders[k])]
    if todo:
        with contextlib.ExitStack() as stack:
            writers = {k: stack.enter_context(SplitWriter(folders[k], stem, metas[k])) for k in todo}
            desc = f"features {split}" + (f" shard {ext.rank}/{ext.world_size}" if ext.world_size > 1 else "")
            for utt_id, feats in _featurize(feat, part, todo, ext.batch_seconds, device, desc):
                for k, writer in writers.items():
                    writer.add(utt_id, feats[k])
            for writer in writers.values():
                writer.commit()
    if ext.world_size > 1:
        ids = [u.id for u in utts]
        merged = [merge_shards(folders[k], split, ext.world_size, ids) for k in folders]
        if not all(merged):
            logger.info("[extract_features] %s: shard %d/%d done; the split is merged once all shards are", split,
                        ext.rank, ext.world_size)
    return bool(todo)


def run(cfg: RunConfig) -> Path:
    cfg.features.validate()
    cfg.extract.validate()
    cfg.data.vad.validate()
    paths = RunPaths(Path(cfg.out))
    device = cfg.extract.torch_device()
    features_cfg = cfg.features
    if any(f.name == "device" for f in dataclasses.fields(features_cfg)):
        features_cfg = dataclasses.replace(features_cfg, device=str(device))  # extract.device decides
    feat = build_featurizer(features_cfg)
    layers = feat.check_layers([cfg.layer, *cfg.extract.layers])
    conf = _cache_config(feat, cfg)
    key = cache_key(conf)
    folders = {k: layer_dir(paths.features, key, k) for k in layers}
    _remember(paths.features, cfg, key)
    metas = {
        k: {"config": conf, "layer": k, "dim": feat.dim, "frame_shift_s": feat.frame_shift_s, "dtype": "float16"}
        for k in layers
    }
    t0 = time.time()
    done = []
    with torch.inference_mode():
        for split in cfg.splits.all():
            if _extract_split(cfg, feat, folders, metas, split, device):
                done.append(split)
    shard = f", shard {cfg.extract.rank}/{cfg.extract.world_size}" if cfg.extract.world_size > 1 else ""
    logger.info("[extract_features] %s layers %s, dim %d, %s%s -> %s (computed %s, %.1f s)", cfg.features.name,
                layers, feat.dim, device, shard, folders[cfg.layer], done or "nothing: cached", time.time() - t0)
    return folders[cfg.layer]
