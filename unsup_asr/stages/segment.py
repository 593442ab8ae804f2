"""Stage 3: fit the segmenter on training features and segment every split.

Writes ``out/exp/seg/<segmenter>/``: ``segmenter.npz`` (fitted state) and per split
``<split>.npz`` with ``emb (sum S_i, D')`` float32, ``seg_lens (N,)``, ``bounds (sum T_i,)`` bool
(True where a frame starts a segment), ``frame_lens (N,)`` and ``ids (N,)``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from segmentation import SEGMENTERS, Segmenter
from unsup_asr.config import RunConfig
from unsup_asr.features.cache import FeatureSet
from unsup_asr.io import atomic_write, file_sha1, mark_done
from unsup_asr.paths import RunPaths
from unsup_asr.stages.common import up_to_date
from unsup_asr.stages.extract_features import features_folder

logger = logging.getLogger(__name__)


@dataclass
class SegmentSet:
    """Segments of one split, one entry per utterance."""

    ids: list[str]
    embeddings: list[np.ndarray]
    """``(S_i, D')`` float32 per utterance."""
    boundaries: list[np.ndarray]
    """``(T_i,)`` bool per utterance (True = frame starts a segment)."""
    frame_shift_s: float


def build_segmenter(seg_cfg: Any) -> Segmenter:
    return SEGMENTERS.get(seg_cfg.name).cls(seg_cfg)  # type: ignore[call-arg]


def save_segments(path: Path, ss: SegmentSet) -> None:
    def write(p: Path) -> None:
        with p.open("wb") as f:
            np.savez(
                f,
                emb=np.concatenate(ss.embeddings).astype(np.float32),
                seg_lens=np.asarray([e.shape[0] for e in ss.embeddings], dtype=np.int64),
                bounds=np.concatenate(ss.boundaries),
                frame_lens=np.asarray([b.shape[0] for b in ss.boundaries], dtype=np.int64),
                ids=np.asarray(ss.ids),
                frame_shift_s=np.asarray(ss.frame_shift_s),
            )

    atomic_write(path, write)


def load_segments(path: Path) -> SegmentSet:
    if not path.is_file():
        raise FileNotFoundError(f"segments {path} not found; run the segment stage first")
    with np.load(path) as z:  # read each array once: every z[key] access re-reads the file
        arrays = {k: z[k] for k in ("emb", "seg_lens", "bounds", "frame_lens", "ids", "frame_shift_s")}
    emb, bounds = arrays["emb"], arrays["bounds"]
    s_off = np.concatenate([[0], np.cumsum(arrays["seg_lens"])])
    t_off = np.concatenate([[0], np.cumsum(arrays["frame_lens"])])
    n = len(arrays["seg_lens"])
    return SegmentSet(
        ids=[str(i) for i in arrays["ids"]],
        embeddings=[emb[s_off[i] : s_off[i + 1]] for i in range(n)],
        boundaries=[bounds[t_off[i] : t_off[i + 1]] for i in range(n)],
        frame_shift_s=float(arrays["frame_shift_s"]),
    )


def segments_path(cfg: RunConfig, split: str) -> Path:
    return RunPaths(Path(cfg.out)).segments(cfg.segmenter.name) / f"{split}.npz"


def _referenced_files(segmenter_cfg: Any) -> dict[str, str]:
    """SHA-1 of every existing file a segmenter config field names (checkpoints such as a policy)."""
    return {k: file_sha1(v) for k, v in sorted(asdict(segmenter_cfg).items())
            if isinstance(v, str) and v and Path(v).is_file()}


def run(cfg: RunConfig) -> Path:
    cfg.segmenter.validate()
    out = RunPaths(Path(cfg.out)).segments(cfg.segmenter.name)
    feat_dir = features_folder(cfg)
    info: dict[str, Any] = {"segmenter": asdict(cfg.segmenter), "features": str(feat_dir),
                            "splits": cfg.splits.all()}
    files = _referenced_files(cfg.segmenter)
    if files:  # e.g. the rl segmenter's policy: a new policy at the same path must not reuse old segments
        info["files_sha1"] = files
    if up_to_date(out, info):
        logger.info("[segment] cached in %s", out)
        return out
    t0 = time.time()
    seg = build_segmenter(cfg.segmenter)
    train = FeatureSet(feat_dir, cfg.splits.train)
    seg.fit(train)
    seg.save(out / "segmenter.npz")
    summary = []
    for split in cfg.splits.all():
        fs = FeatureSet(feat_dir, split)
        embs, bounds = [], []
        for i in tqdm(range(len(fs)), desc=f"segment {split}", unit="utt", leave=False):
            x = torch.from_numpy(fs[i])[None]
            (b, e), = seg(x, torch.tensor([x.shape[1]])).unbatch(torch.tensor([x.shape[1]]))
            bounds.append(b)
            embs.append(e)
        save_segments(out / f"{split}.npz", SegmentSet(fs.ids, embs, bounds, fs.frame_shift_s))
        secs = sum(b.shape[0] for b in bounds) * fs.frame_shift_s
        summary.append(f"{split}: {sum(e.shape[0] for e in embs) / secs:.1f} seg/s")
    mark_done(out, info)
    logger.info("[segment] %s, dim %d: %s (%.1f s)", cfg.segmenter.name, seg.out_dim, ", ".join(summary),
                time.time() - t0)
    return out
