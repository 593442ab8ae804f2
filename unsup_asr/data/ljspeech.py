"""LJSpeech and corpora in its layout (one speaker, ``metadata.csv`` + ``wavs/``).

``metadata.csv`` has one row per utterance, ``|``-separated and unquoted (transcripts contain
quotes and commas, so it is not parsed as CSV)::

    LJ001-0001|Printing, in the only sense ...|Printing, in the only sense ...

Fields: the id (audio is ``wavs/<id>.wav``), the raw transcript and, optionally, the normalised
transcript (numbers and abbreviations written out). ``text`` is the normalised transcript where
the row has a non-empty one and ``use_normalized`` is set, else the raw one; the raw transcript is
kept in ``extra["raw_text"]``. A row with another number of fields, an empty id or a repeated id
is an error naming its line. LJSpeech has no standard split: ``split`` cuts one deterministically,
by default sentence-disjoint (no transcript in two splits).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from unsup_asr.data.folder import probe_utterance, read_utf8_lines
from unsup_asr.data.manifest import Utterance
from unsup_asr.data.splits import SplitConfig, apply_split, describe_splits

logger = logging.getLogger(__name__)


def _default_split() -> SplitConfig:
    return SplitConfig(by="sentence")


@dataclass(kw_only=True)
class LJSpeechConfig:
    """Where an LJSpeech-layout corpus is and how to split it."""

    root: str
    """Folder holding ``metadata.csv`` and ``wavs/``."""
    metadata: str = "metadata.csv"
    """Metadata file, relative to ``root``."""
    audio_dir: str = "wavs"
    """Audio folder, relative to ``root``."""
    use_normalized: bool = True
    """Use the normalised transcript (third field) as ``text`` when a row has one."""
    speaker: str = "LJ"
    """Speaker id given to every utterance."""
    split: SplitConfig = field(default_factory=_default_split)
    """Held-out split, e.g. ``fractions={"train": 0.9, "valid": 0.05, "test": 0.05}``; no fractions =
    one split named ``name``."""
    name: str = "all"
    """Name of the single split when ``split.fractions`` is empty."""

    def validate(self) -> None:
        """Raise ValueError if a field is out of range."""
        if not self.root:
            raise ValueError("ljspeech: root must name the corpus folder")
        if not self.metadata or not self.audio_dir or not self.speaker or not self.name:
            raise ValueError("ljspeech: metadata, audio_dir, speaker and name must be non-empty")
        self.split.validate()


def read_metadata(path: Path) -> list[tuple[str, str, str | None]]:
    """``(id, raw_text, normalized_text or None)`` per row of an LJSpeech ``metadata.csv``."""
    rows: list[tuple[str, str, str | None]] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(read_utf8_lines(path), 1):
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) not in (2, 3) or not fields[0].strip():
            raise ValueError(
                f"{path}:{lineno}: expected 'id|text' or 'id|text|normalized text', got {len(fields)} "
                f"'|'-separated field(s): {line[:80]!r}"
            )
        utt_id = fields[0].strip()
        if utt_id in seen:
            raise ValueError(f"{path}:{lineno}: id {utt_id!r} already on line {seen[utt_id]}")
        seen[utt_id] = lineno
        norm = fields[2].strip() if len(fields) == 3 and fields[2].strip() else None
        rows.append((utt_id, fields[1].strip(), norm))
    return rows


def prepare_ljspeech(cfg: LJSpeechConfig) -> dict[str, list[Utterance]]:
    """Utterances of an LJSpeech-layout corpus, split by ``cfg.split``.

    Raises FileNotFoundError for a missing metadata or audio file, ValueError for a malformed or
    non-UTF-8 metadata row (naming its line) or an empty corpus.
    """
    cfg.validate()
    root = Path(cfg.root).resolve()
    meta = root / cfg.metadata
    if not meta.is_file():
        raise FileNotFoundError(f"ljspeech: {meta} does not exist")
    rows = read_metadata(meta)
    if not rows:
        raise ValueError(f"ljspeech: {meta} has no rows")
    utts = []
    for utt_id, raw, norm in rows:
        wav = root / cfg.audio_dir / f"{utt_id}.wav"
        if not wav.is_file():
            raise FileNotFoundError(f"ljspeech: {meta} lists {utt_id} but {wav} does not exist")
        text = norm if cfg.use_normalized and norm is not None else raw
        utts.append(probe_utterance(utt_id, wav, speaker=cfg.speaker, text=text, extra={"raw_text": raw}))
    splits = apply_split(utts, cfg.split, default_name=cfg.name)
    logger.info("ljspeech %s:\n%s", root, describe_splits(splits))
    return splits
