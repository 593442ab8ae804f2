"""Atomic file writes and completion markers.

Every long stage writes its outputs through these helpers: a file appears under its final name
only when complete (write to a temporary file in the same folder, fsync, ``os.replace``), and a
folder counts as finished only once its ``.done`` marker exists, which is written last.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

DONE = ".done"


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` and move the result to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        with open(tmp_path, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp_path, 0o644)  # mkstemp creates 0600; results should be readable like any file
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write JSON (indented, sorted keys) atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def is_done(folder: str | os.PathLike[str]) -> bool:
    """True if ``folder`` holds a completion marker."""
    return (Path(folder) / DONE).is_file()


def mark_done(folder: str | os.PathLike[str], info: dict[str, Any] | None = None) -> None:
    """Write the completion marker of ``folder`` (call this last)."""
    atomic_write_json(Path(folder) / DONE, info or {})


def clear_done(folder: str | os.PathLike[str]) -> None:
    """Remove the completion marker (before re-writing a folder)."""
    (Path(folder) / DONE).unlink(missing_ok=True)


def file_sha1(path: str | os.PathLike[str]) -> str:
    """SHA-1 hex digest of a file's bytes, read in 1 MiB chunks (checkpoints can be large)."""
    h = hashlib.sha1()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
