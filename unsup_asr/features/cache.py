"""On-disk feature cache: one folder per (featurizer config, layer), one flat array per split.

Layout of ``<root>/<key>/L<layer>/``::

    meta.json          the featurizer config, key, layer, dim, frame shift, dtype (self-describing)
    <split>.f16        float16 frames of all utterances, concatenated, shape (sum T_i, D), raw
    <split>.lens.npy   int64 (N,) frames per utterance
    <split>.ids.txt    utterance ids, one per line, in manifest order
    <split>.done       completion marker, written last
    <split>.shard<r>of<W>.{f16,lens.npy,ids.txt,done}
                       shard r of W (sharded extraction, W > 1), the same four files for the r-th
                       contiguous share of the split's utterances (:func:`shard_range`); present
                       only until all W shards are done and :func:`merge_shards` has concatenated
                       them, in order, into the split's files

``key`` is the first 8 hex digits of the SHA-1 of the featurizer config (see :func:`cache_key`).
Frames are streamed to a temporary file and renamed only when the split (or shard) is complete, so a
killed extraction never leaves a split or shard that looks finished; the next run rebuilds it. A
merge writes every file through a temporary file too and the split's marker last, so two workers
merging at once, or a killed merge, are harmless. Reads are memory-mapped. Size: 50 frames/s x D
dims x 2 bytes (0.37 GB per hour per layer at D=1024).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from unsup_asr.io import atomic_write, atomic_write_json, atomic_write_text

CACHE_VERSION = 1


def cache_key(config: dict[str, Any]) -> str:
    """8-hex-digit SHA-1 of a JSON-serialisable featurizer config."""
    blob = json.dumps({"cache_version": CACHE_VERSION, **config}, sort_keys=True).encode()
    return hashlib.sha1(blob).hexdigest()[:8]


def layer_dir(root: str | os.PathLike[str], key: str, layer: int) -> Path:
    """Folder of one layer's cache."""
    return Path(root) / key / f"L{layer}"


def split_done(folder: Path, split: str) -> bool:
    """True if ``folder/<split>.done`` exists (also for a shard's stem, see :func:`shard_name`)."""
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


class SplitWriter:
    """Streams ``(utt_id, feats (T, D))`` items into ``folder/<stem>.*`` (a split, or a shard with
    :func:`shard_name`); :meth:`commit` writes the marker last. Use as a context manager: leaving it
    without :meth:`commit` (an exception, a kill) removes the temporary file and marks nothing done."""

    def __init__(self, folder: Path, stem: str, meta: dict[str, Any]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        _check_meta(folder, meta)
        (folder / f"{stem}.done").unlink(missing_ok=True)
        self.folder = folder
        self.stem = stem
        self.dim = int(meta["dim"])
        self.tmp = folder / f".{stem}.f16.tmp"
        self.ids: list[str] = []
        self.lens: list[int] = []
        self._file = self.tmp.open("wb")
        self._committed = False

    def add(self, utt_id: str, feats: np.ndarray) -> None:
        """Append one utterance's features ``(T, D)`` (written as float16)."""
        if feats.ndim != 2 or feats.shape[1] != self.dim:
            raise ValueError(f"{utt_id}: features of shape {feats.shape}, expected (T, {self.dim})")
        if not np.all(np.isfinite(feats)):
            raise ValueError(f"{utt_id}: features contain NaN/Inf; check the audio file and the model")
        self._file.write(np.ascontiguousarray(feats, dtype=np.float16).tobytes())
        self.ids.append(utt_id)
        self.lens.append(int(feats.shape[0]))

    def commit(self) -> None:
        """Move the frames into place, write lengths and ids, then the marker."""
        folder, stem = self.folder, self.stem
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.tmp, folder / f"{stem}.f16")
        lens_tmp = folder / f".{stem}.lens.tmp.npy"
        np.save(lens_tmp, np.asarray(self.lens, dtype=np.int64))
        os.replace(lens_tmp, folder / f"{stem}.lens.npy")
        atomic_write_text(folder / f"{stem}.ids.txt", "".join(i + "\n" for i in self.ids))
        atomic_write_json(folder / f"{stem}.done", {"num_utterances": len(self.ids), "num_frames": int(sum(self.lens))})
        self._committed = True

    def __enter__(self) -> SplitWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._committed:
            self._file.close()
            self.tmp.unlink(missing_ok=True)


def write_split(
    folder: Path,
    split: str,
    meta: dict[str, Any],
    items: Iterable[tuple[str, np.ndarray]],
) -> None:
    """Stream ``(utt_id, feats (T, D))`` items into ``folder/<split>.*``; marker written last."""
    with SplitWriter(folder, split, meta) as writer:
        for utt_id, feats in items:
            writer.add(utt_id, feats)
        writer.commit()


def shard_name(split: str, rank: int, world_size: int) -> str:
    """File stem of shard ``rank`` of ``world_size`` of a split (``<split>.shard<r>of<W>``)."""
    return f"{split}.shard{rank}of{world_size}"


def shard_range(num_utterances: int, rank: int, world_size: int) -> tuple[int, int]:
    """``[start, stop)`` utterance indices (manifest order) of shard ``rank``: contiguous shares whose
    sizes differ by at most one."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} out of range for world_size {world_size}")
    return rank * num_utterances // world_size, (rank + 1) * num_utterances // world_size


def shard_done(folder: Path, split: str, rank: int, world_size: int, ids: Sequence[str]) -> bool:
    """True if the shard is complete and holds exactly ``ids`` (its share of the current manifest)."""
    name = shard_name(split, rank, world_size)
    if not split_done(folder, name):
        return False
    return (folder / f"{name}.ids.txt").read_text().split() == list(ids)


_SHARD_FILES = (".done", ".f16", ".lens.npy", ".ids.txt")
"""Suffixes of a shard's files, marker first (removed first, so a half-removed shard is never complete)."""


def merge_shards(folder: Path, split: str, world_size: int, ids: Sequence[str]) -> bool:
    """Concatenate the ``world_size`` shards of ``split``, in rank order, into the split's files
    (the same bytes a single worker writes), then remove the shards. Returns True if the split is
    complete afterwards, False if some shard is not done yet. ``ids`` are the split's utterance ids in
    manifest order; the shards must hold exactly those (ValueError otherwise)."""
    if split_done(folder, split):
        return True
    names = [shard_name(split, r, world_size) for r in range(world_size)]
    if not all(split_done(folder, name) for name in names):
        return False
    try:
        _merge(folder, split, names, ids)
    except FileNotFoundError:
        if split_done(folder, split):  # another worker merged (and removed the shards) meanwhile
            return True
        raise
    for name in names:
        for suffix in _SHARD_FILES:
            (folder / f"{name}{suffix}").unlink(missing_ok=True)
    return True


def _merge(folder: Path, split: str, names: list[str], ids: Sequence[str]) -> None:
    merged_ids = [i for name in names for i in (folder / f"{name}.ids.txt").read_text().split()]
    if merged_ids != list(ids):
        raise ValueError(
            f"the shards of split '{split}' in {folder} hold {len(merged_ids)} utterances that differ from the "
            f"manifest's {len(ids)}: the manifest changed since they were written; delete {folder / split}.shard* "
            "and extract again"
        )
    lens = np.concatenate([np.load(folder / f"{name}.lens.npy") for name in names]).astype(np.int64)
    dim = int(json.loads((folder / "meta.json").read_text())["dim"])
    size = sum((folder / f"{name}.f16").stat().st_size for name in names)
    if size != int(lens.sum()) * dim * 2:
        raise ValueError(f"the shards of split '{split}' in {folder} hold {size} bytes of frames, their lengths say "
                         f"{int(lens.sum()) * dim * 2}; delete {folder / split}.shard* and extract again")

    def write_frames(tmp: Path) -> None:
        with tmp.open("wb") as out:
            for name in names:
                with (folder / f"{name}.f16").open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 24)

    def write_lens(tmp: Path) -> None:
        with tmp.open("wb") as f:
            np.save(f, lens)

    atomic_write(folder / f"{split}.f16", write_frames)
    atomic_write(folder / f"{split}.lens.npy", write_lens)
    atomic_write_text(folder / f"{split}.ids.txt", "".join(i + "\n" for i in merged_ids))
    atomic_write_json(folder / f"{split}.done", {"num_utterances": len(merged_ids), "num_frames": int(lens.sum())})


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
