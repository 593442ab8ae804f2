"""On-disk feature cache: one folder per (featurizer config, layer), one flat array per split.

Layout of ``<root>/<key>/L<layer>/``::

    meta.json          the featurizer config, key, layer, dim, frame shift, dtype (self-describing)
    <split>.f16        float16 frames of all utterances, concatenated, shape (sum T_i, D), raw
    <split>.lens.npy   int64 (N,) frames per utterance
    <split>.ids.txt    utterance ids, one per line, in order
    <split>.done       completion marker, written last

``key`` is the first 8 hex digits of the SHA-1 of the featurizer config (see :func:`cache_key`).
Frames are streamed to a temporary file and renamed only when the split is complete, so a killed
extraction never leaves a split that looks finished; the next run rebuilds it. Reads are
memory-mapped. Size: 50 frames/s x D dims x 2 bytes (0.37 GB per hour per layer at D=1024).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from unsup_asr.io import atomic_write_json, atomic_write_text

CACHE_VERSION = 1


def cache_key(config: dict[str, Any]) -> str:
    """8-hex-digit SHA-1 of a JSON-serialisable featurizer config."""
    blob = json.dumps({"cache_version": CACHE_VERSION, **config}, sort_keys=True).encode()
    return hashlib.sha1(blob).hexdigest()[:8]


def layer_dir(root: str | os.PathLike[str], key: str, layer: int) -> Path:
    """Folder of one layer's cache."""
    return Path(root) / key / f"L{layer}"


def split_done(folder: Path, split: str) -> bool:
    return (folder / f"{split}.done").is_file()


def _check_meta(folder: Path, meta: dict[str, Any]) -> None:
    path = folder / "meta.json"
    if path.is_file():
        old = json.loads(path.read_text())
        if old != meta:
            raise ValueError(
                f"feature cache {folder} was written by a different config:\n  cached: {old}\n  now:    {meta}\n"
                "delete the folder or use another features root"
            )
    else:
        atomic_write_json(path, meta)


def write_split(
    folder: Path,
    split: str,
    meta: dict[str, Any],
    items: Iterable[tuple[str, np.ndarray]],
) -> None:
    """Stream ``(utt_id, feats (T, D))`` items into ``folder/<split>.*``; marker written last."""
    folder.mkdir(parents=True, exist_ok=True)
    _check_meta(folder, meta)
    (folder / f"{split}.done").unlink(missing_ok=True)
    dim = int(meta["dim"])
    tmp = folder / f".{split}.f16.tmp"
    ids: list[str] = []
    lens: list[int] = []
    with tmp.open("wb") as f:
        for utt_id, feats in items:
            if feats.ndim != 2 or feats.shape[1] != dim:
                raise ValueError(f"{utt_id}: features of shape {feats.shape}, expected (T, {dim})")
            if not np.all(np.isfinite(feats)):
                raise ValueError(f"{utt_id}: features contain NaN/Inf; check the audio file and the model")
            f.write(np.ascontiguousarray(feats, dtype=np.float16).tobytes())
            ids.append(utt_id)
            lens.append(int(feats.shape[0]))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, folder / f"{split}.f16")
    lens_tmp = folder / f".{split}.lens.tmp.npy"
    np.save(lens_tmp, np.asarray(lens, dtype=np.int64))
    os.replace(lens_tmp, folder / f"{split}.lens.npy")
    atomic_write_text(folder / f"{split}.ids.txt", "".join(i + "\n" for i in ids))
    atomic_write_json(folder / f"{split}.done", {"num_utterances": len(ids), "num_frames": int(sum(lens))})


class FeatureSet(Sequence[np.ndarray]):
    """Memory-mapped read access to one cached split; ``fs[i]`` is a float32 ``(T_i, D)`` array."""

    def __init__(self, folder: str | os.PathLike[str], split: str) -> None:
        self.folder = Path(folder)
        self.split = split
        if not split_done(self.folder, split):
            raise FileNotFoundError(
                f"no complete feature cache for split '{split}' in {self.folder}; run the extract_features stage"
            )
        self.meta: dict[str, Any] = json.loads((self.folder / "meta.json").read_text())
        self.dim = int(self.meta["dim"])
        self.frame_shift_s = float(self.meta["frame_shift_s"])
        self.lens = np.load(self.folder / f"{split}.lens.npy")
        self.ids = (self.folder / f"{split}.ids.txt").read_text().split()
        self.offsets = np.concatenate([[0], np.cumsum(self.lens)]).astype(np.int64)
        total = int(self.offsets[-1])
        self._data = np.memmap(self.folder / f"{split}.f16", dtype=np.float16, mode="r", shape=(total, self.dim))

    def __len__(self) -> int:
        return len(self.lens)

    def __getitem__(self, i: int) -> np.ndarray:  # type: ignore[override]
        return np.asarray(self._data[self.offsets[i] : self.offsets[i + 1]], dtype=np.float32)

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]

    def all_frames(self) -> np.ndarray:
        """All frames of the split, ``(sum T_i, D)`` float16 (memory-mapped)."""
        return self._data
