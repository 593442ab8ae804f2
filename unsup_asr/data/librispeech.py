"""LibriSpeech (and LibriSpeech-shaped unlabelled audio).

Layout of one subset (``dev-clean``, ``train-clean-100``, ...)::

    <subset>/<speaker>/<chapter>/<speaker>-<chapter>-<nnnn>.flac
    <subset>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt     "<utt id> <TRANSCRIPT>" per line

Each subset becomes one split named after its folder. ``root`` is either a subset folder itself
(its children are numeric speaker folders) or a folder of subsets (``LibriSpeech/``). The
utterance id is the file stem (``1272-128104-0000``), the speaker the speaker folder, and
``extra["chapter"]`` the chapter folder; the transcript is kept as written (upper case).

A chapter whose audio has no transcript is an error naming it, unless ``require_text=False``
(unlabelled audio, e.g. a LibriLight-style copy): then its utterances have no text and the
number of such chapters is logged. A transcript line whose audio file is absent is an error.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from unsup_asr.data.folder import probe_utterance, read_utf8_lines
from unsup_asr.data.manifest import Utterance
from unsup_asr.data.splits import describe_splits, sort_splits

logger = logging.getLogger(__name__)

_UTT_ID = re.compile(r"^(\d+)-(\d+)-(\d+)$")


@dataclass(kw_only=True)
class LibriSpeechConfig:
    """Which LibriSpeech subsets to read."""

    root: str
    """A subset folder (``LibriSpeech/dev-clean``) or a folder holding subset folders."""
    subsets: list[str] = field(default_factory=list)
    """Subset folder names under ``root`` to read; ``[]`` = every subset found (or ``root`` itself)."""
    require_text: bool = True
    """Raise ValueError for a chapter without ``<speaker>-<chapter>.trans.txt``; ``False`` keeps its
    audio without text (unlabelled training audio)."""
    extensions: list[str] = field(default_factory=lambda: ["flac"])
    """Audio file extensions, without dot (``wav`` for converted copies)."""

    def validate(self) -> None:
        """Raise ValueError if a field is out of range."""
        if not self.root:
            raise ValueError("librispeech: root must name a LibriSpeech folder")
        if len(set(self.subsets)) != len(self.subsets) or any(not s or "/" in s for s in self.subsets):
            raise ValueError(f"librispeech: subsets={self.subsets} must be distinct folder names")
        if not self.extensions or any(not e or e.startswith(".") for e in self.extensions):
            raise ValueError(f"librispeech: extensions={self.extensions} must be non-empty names without a dot")


def _is_subset(path: Path) -> bool:
    return path.is_dir() and any(p.is_dir() and p.name.isdigit() for p in path.iterdir())


def _read_transcripts(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for lineno, line in enumerate(read_utf8_lines(path), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if not _UTT_ID.match(parts[0]):
            raise ValueError(f"{path}:{lineno}: expected '<speaker>-<chapter>-<n> TRANSCRIPT', got {line!r}")
        if parts[0] in out:
            raise ValueError(f"{path}:{lineno}: utterance {parts[0]} is transcribed twice")
        out[parts[0]] = parts[1].strip() if len(parts) == 2 else ""
    return out


def _chapter(chapter: Path, speaker: str, cfg: LibriSpeechConfig) -> tuple[list[Utterance], bool]:
    """Utterances of one chapter folder and whether its transcript was missing."""
    exts = {"." + e.lower() for e in cfg.extensions}
    audio = {p.stem: p for p in chapter.iterdir() if p.suffix.lower() in exts}
    trans_path = chapter / f"{speaker}-{chapter.name}.trans.txt"
    missing = not trans_path.is_file()
    if missing and audio and cfg.require_text:
        raise ValueError(
            f"librispeech: chapter {chapter} has {len(audio)} audio files but no transcript {trans_path.name}; "
            "restore it, or set require_text=False for unlabelled audio"
        )
    trans = {} if missing else _read_transcripts(trans_path)
    orphans = sorted(set(trans) - set(audio))
    if orphans:
        raise ValueError(
            f"librispeech: {trans_path} transcribes {orphans[0]} but {chapter} has no audio for it "
            f"({len(orphans)} such lines); the copy is incomplete"
        )
    utts = []
    for stem, path in sorted(audio.items()):
        m = _UTT_ID.match(stem)
        if m is None or m.group(1) != speaker or m.group(2) != chapter.name:
            raise ValueError(f"librispeech: {path} is not named {speaker}-{chapter.name}-<n> like its folders")
        if not missing and stem not in trans:
            raise ValueError(f"librispeech: {path} has no line in {trans_path}")
        utts.append(probe_utterance(stem, path, speaker=speaker, text=trans.get(stem), extra={"chapter": chapter.name}))
    return utts, missing and bool(audio)


def _subset(path: Path, cfg: LibriSpeechConfig) -> list[Utterance]:
    utts: list[Utterance] = []
    untranscribed = 0
    for spk in sorted(p for p in path.iterdir() if p.is_dir() and p.name.isdigit()):
        for chapter in sorted(p for p in spk.iterdir() if p.is_dir()):
            chapter_utts, missing = _chapter(chapter, spk.name, cfg)
            utts += chapter_utts
            untranscribed += missing
    if untranscribed:
        logger.warning(
            "librispeech: %d chapters of %s have no transcript; their audio has no text", untranscribed, path
        )
    return utts


def prepare_librispeech(cfg: LibriSpeechConfig) -> dict[str, list[Utterance]]:
    """One split per LibriSpeech subset folder (named after it), utterances sorted by id.

    Raises FileNotFoundError for a missing root or subset, ValueError for a chapter without
    transcript (with ``require_text``), a misnamed file, a malformed or non-UTF-8 transcript line,
    or a subset without audio.
    """
    cfg.validate()
    root = Path(cfg.root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"librispeech: {root} is not a folder")
    if cfg.subsets:
        dirs = [root / s for s in cfg.subsets]
        absent = [str(d) for d in dirs if not d.is_dir()]
        if absent:
            raise FileNotFoundError(f"librispeech: subset folder(s) {absent} do not exist")
    elif _is_subset(root):
        dirs = [root]
    else:
        dirs = sorted(d for d in root.iterdir() if _is_subset(d))
        if not dirs:
            raise ValueError(f"librispeech: {root} holds neither <speaker>/<chapter> folders nor subset folders")
    splits = {}
    for d in dirs:
        utts = _subset(d, cfg)
        if not utts:
            raise ValueError(f"librispeech: no *.{{{','.join(cfg.extensions)}}} audio under {d}")
        splits[d.name] = utts
    out = sort_splits(splits)
    logger.info("librispeech %s:\n%s", root, describe_splits(out))
    return out
