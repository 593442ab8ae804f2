"""A generic folder of audio files, with an optional TSV of transcripts.

Without a TSV, every ``*.wav`` / ``*.flac`` under ``root`` (recursively, extensions matched case
insensitively, hidden folders skipped) is one utterance without a transcript. With a TSV
(``manifest``), only the files it lists are used. The TSV is tab-separated with a header line;
``path`` is required (relative to ``root`` or absolute) and these columns are read when present:

* ``id`` (else the id comes from the path, see ``id_from``), ``speaker``;
* ``transcript`` or ``text``: the orthographic transcript;
* ``sample_rate`` (Hz) and ``duration_s`` (s): checked against the file (a stale TSV is an error).

Other columns are kept in ``Utterance.extra``. Example (``../shared/data/kathleen``)::

    path                                  duration_s  sample_rate  speaker   transcript
    audio/arctic_a0001_1592748574.flac    3.296       16000        kathleen  Author of the danger trail, ...

This module also holds the small readers shared by the other corpus preparers:
:func:`read_utf8_lines` and :func:`probe_utterance`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from unsup_asr.data.audio import audio_info
from unsup_asr.data.manifest import Utterance
from unsup_asr.data.splits import SplitConfig, apply_split, describe_splits

logger = logging.getLogger(__name__)

ID_FROM = ("stem", "path")
"""How an utterance id is made from a file path: its name without extension, or its path below
``root`` without extension with ``/`` replaced by ``__``."""
SPEAKER_FROM = ("parent", "none")
"""Where the speaker comes from without a ``speaker`` column: the folder holding the file, or
nowhere (``unknown``)."""
DURATION_TOLERANCE_S = 0.02
"""Largest accepted difference (s) between a TSV's ``duration_s`` and the file's duration."""


def read_utf8_lines(path: str | os.PathLike[str]) -> list[str]:
    """The lines of a text file without line ends, with an error naming the file and line (1-based)
    if one is not valid UTF-8. A UTF-8 byte-order mark at the start is dropped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = []
    for lineno, raw in enumerate(data.splitlines(), 1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise ValueError(
                f"{path}:{lineno}: not valid UTF-8 (byte {raw[e.start]:#04x} at column {e.start + 1}); "
                "re-encode the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
            ) from e
    return lines


def probe_utterance(
    utt_id: str,
    audio: str | os.PathLike[str],
    *,
    speaker: str = "unknown",
    text: str | None = None,
    extra: dict[str, str] | None = None,
) -> Utterance:
    """An :class:`Utterance` for one audio file, with rate, length and channels read from its header
    (no samples are decoded)."""
    sample_rate, num_samples, channels = audio_info(audio)
    return Utterance(
        id=utt_id,
        audio=str(audio),
        sample_rate=sample_rate,
        num_samples=num_samples,
        speaker=speaker,
        channels=channels,
        text=text,
        extra=dict(extra or {}),
    )


@dataclass(kw_only=True)
class FolderConfig:
    """A folder of audio files, optionally listed in a TSV with transcripts."""

    root: str
    """Folder holding the audio (searched recursively when there is no TSV)."""
    manifest: str = ""
    """TSV listing the files (relative to ``root`` or absolute); ``""`` = glob the folder."""
    extensions: list[str] = field(default_factory=lambda: ["wav", "flac"])
    """Audio file extensions used when globbing, without dot, matched case-insensitively."""
    id_from: str = "stem"
    """Utterance id from the file name (``stem``) or from its path below ``root`` (``path``) when the
    TSV has no ``id`` column."""
    speaker_from: str = "parent"
    """Speaker without a ``speaker`` column: the name of the folder holding the file (``parent``) or
    ``unknown`` (``none``)."""
    split: SplitConfig = field(default_factory=SplitConfig)
    """How to split the utterances; no fractions = one split named ``name``."""
    name: str = "all"
    """Name of the single split when ``split.fractions`` is empty."""

    def validate(self) -> None:
        """Raise ValueError if a field is out of range."""
        if not self.root:
            raise ValueError("folder: root must name the audio folder")
        if not self.extensions or any(not e or e.startswith(".") for e in self.extensions):
            raise ValueError(f"folder: extensions={self.extensions} must be non-empty names without a dot")
        if self.id_from not in ID_FROM:
            raise ValueError(f"folder: id_from={self.id_from!r} must be one of {list(ID_FROM)}")
        if self.speaker_from not in SPEAKER_FROM:
            raise ValueError(f"folder: speaker_from={self.speaker_from!r} must be one of {list(SPEAKER_FROM)}")
        if not self.name:
            raise ValueError("folder: name must be a non-empty split name")
        self.split.validate()


def _make_id(path: Path, root: Path, id_from: str) -> str:
    if id_from == "stem":
        return path.stem
    try:
        rel = path.relative_to(root)
    except ValueError:
        rel = Path(path.name)
    return "__".join(rel.with_suffix("").parts)


def _speaker(path: Path, root: Path, speaker_from: str) -> str:
    if speaker_from == "parent" and path.parent != root:
        return path.parent.name
    return "unknown"


def _glob(cfg: FolderConfig, root: Path) -> list[Utterance]:
    exts = {"." + e.lower() for e in cfg.extensions}
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files += [Path(dirpath) / f for f in filenames if Path(f).suffix.lower() in exts and not f.startswith(".")]
    return [
        probe_utterance(_make_id(p, root, cfg.id_from), p, speaker=_speaker(p, root, cfg.speaker_from))
        for p in sorted(files)
    ]


def _read_tsv(cfg: FolderConfig, root: Path) -> list[Utterance]:
    tsv = Path(cfg.manifest)
    if not tsv.is_absolute():
        tsv = root / tsv
    lines = read_utf8_lines(tsv)
    if not lines or "path" not in lines[0].split("\t"):
        raise ValueError(f"{tsv}:1: the header line must be tab-separated column names including 'path'")
    header = lines[0].split("\t")
    if len(set(header)) != len(header):
        raise ValueError(f"{tsv}:1: duplicate column names in {header}")
    text_col = "transcript" if "transcript" in header else "text" if "text" in header else None
    known = {"path", "id", "speaker", "sample_rate", "duration_s", text_col}
    utts = []
    for lineno, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != len(header):
            raise ValueError(f"{tsv}:{lineno}: {len(cells)} tab-separated fields, the header has {len(header)}")
        row = dict(zip(header, cells, strict=True))
        audio = Path(row["path"])
        if not audio.is_absolute():
            audio = root / audio
        if not audio.is_file():
            raise FileNotFoundError(f"{tsv}:{lineno}: audio file {audio} does not exist")
        utt = probe_utterance(
            row.get("id") or _make_id(audio, root, cfg.id_from),
            audio,
            speaker=row.get("speaker") or _speaker(audio, root, cfg.speaker_from),
            text=row[text_col] if text_col is not None else None,
            extra={k: v for k, v in row.items() if k not in known},
        )
        _check_row(row, utt, f"{tsv}:{lineno}")
        utts.append(utt)
    return utts


def _check_row(row: dict[str, str], utt: Utterance, where: str) -> None:
    try:
        rate = int(row["sample_rate"]) if row.get("sample_rate") else None
        dur = float(row["duration_s"]) if row.get("duration_s") else None
    except ValueError as e:
        raise ValueError(f"{where}: sample_rate/duration_s must be numbers ({e})") from e
    if rate is not None and rate != utt.sample_rate:
        raise ValueError(
            f"{where}: sample_rate {rate} but {utt.audio} is at {utt.sample_rate} Hz; the TSV is stale, regenerate it"
        )
    if dur is not None and abs(dur - utt.duration_s) > DURATION_TOLERANCE_S:
        raise ValueError(
            f"{where}: duration_s {dur} but {utt.audio} lasts {utt.duration_s:.3f} s; the TSV is stale, regenerate it"
        )


def prepare_folder(cfg: FolderConfig) -> dict[str, list[Utterance]]:
    """Utterances of an audio folder (see the module docstring), split by ``cfg.split``.

    Raises ValueError when the folder holds no audio, ids collide, or a TSV row is malformed;
    FileNotFoundError when the folder or a listed file is missing.
    """
    cfg.validate()
    root = Path(cfg.root)
    if not root.is_dir():
        raise FileNotFoundError(f"folder: {root} is not a folder")
    utts = _read_tsv(cfg, root) if cfg.manifest else _glob(cfg, root)
    if not utts:
        what = f"rows in {cfg.manifest}" if cfg.manifest else f"*.{{{','.join(cfg.extensions)}}} files"
        raise ValueError(f"folder: no {what} under {root}")
    by_id: dict[str, str] = {}
    for u in utts:
        if u.id in by_id:
            raise ValueError(
                f"folder: {by_id[u.id]} and {u.audio} both give utterance id {u.id!r}; "
                "set id_from='path' or give an id column"
            )
        by_id[u.id] = u.audio
    splits = apply_split(utts, cfg.split, default_name=cfg.name)
    logger.info("folder %s:\n%s", root, describe_splits(splits))
    return splits
