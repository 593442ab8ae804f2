"""Kaldi-style data folders: ``wav.scp`` (or a tree of audio files), ``text``, ``utt2spk``.

A data folder ``<data_dir>`` holds, one utterance per line, ``<utt> <value>``:

* ``wav.scp``: the audio of each utterance as a **plain file path** (absolute, or relative to
  ``base_dir``). Piped commands (``sph2pipe -f wav x.sph |``), archive offsets (``x.ark:123``)
  and standard input (``-``) are not supported and raise ValueError naming the line; convert such
  audio to files first. ``segments`` (utterances cut from longer recordings) is not supported.
* Without ``wav.scp``, audio is looked up by file stem (``<utt>.wav`` / ``<utt>.flac``) in a tree:
  ``wave_dir``, or else the first of ``<data_dir>/WAVE``, ``<data_dir>/../WAVE``, ``<data_dir>/wav``
  that exists (speechocean762 keeps ``train/{text,utt2spk}`` next to ``WAVE/SPEAKERnnnn/*.flac``).
* ``text``: the transcript (may be empty). ``utt2spk``: the speaker (optional; else ``unknown``).

The utterances are those of ``wav.scp`` (or of ``text``, then ``utt2spk``, when audio comes from a
tree). An utterance without transcript is an error unless ``require_text=False``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from unsup_asr.data.folder import probe_utterance, read_utf8_lines
from unsup_asr.data.manifest import Utterance
from unsup_asr.data.splits import SplitConfig, apply_split, describe_splits

logger = logging.getLogger(__name__)

_ARK_OFFSET = re.compile(r":\d+$")


@dataclass(kw_only=True)
class KaldiDirConfig:
    """A Kaldi data folder and how to split it."""

    data_dir: str
    """Folder with ``text`` / ``utt2spk`` and optionally ``wav.scp``."""
    wave_dir: str = ""
    """Audio tree searched by file stem when there is no ``wav.scp``; ``""`` = look for ``WAVE`` or
    ``wav`` next to or inside ``data_dir``."""
    base_dir: str = ""
    """Folder that relative ``wav.scp`` paths are resolved against (Kaldi uses the recipe folder it
    runs in); ``""`` = the grandparent of ``data_dir`` (``<recipe>/data/<name>`` -> ``<recipe>``)."""
    extensions: list[str] = field(default_factory=lambda: ["wav", "flac"])
    """Audio extensions searched in the tree, without dot."""
    require_text: bool = True
    """Raise ValueError for an utterance missing from ``text``; ``False`` keeps it without text."""
    split: SplitConfig = field(default_factory=SplitConfig)
    """How to split the utterances; no fractions = one split named after ``data_dir``."""

    def validate(self) -> None:
        """Raise ValueError if a field is out of range."""
        if not self.data_dir:
            raise ValueError("kaldi: data_dir must name a Kaldi data folder")
        if not self.extensions or any(not e or e.startswith(".") for e in self.extensions):
            raise ValueError(f"kaldi: extensions={self.extensions} must be non-empty names without a dot")
        self.split.validate()


def _read_table(path: Path, *, allow_empty_value: bool) -> dict[str, tuple[int, str]]:
    out: dict[str, tuple[int, str]] = {}
    for lineno, line in enumerate(read_utf8_lines(path), 1):
        if not line.strip():
            continue
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 1 and not allow_empty_value:
            raise ValueError(f"{path}:{lineno}: expected '<utterance id> <value>', got {line!r}")
        if parts[0] in out:
            raise ValueError(f"{path}:{lineno}: utterance {parts[0]!r} appears twice (also line {out[parts[0]][0]})")
        out[parts[0]] = (lineno, parts[1].strip() if len(parts) == 2 else "")
    return out


def read_kaldi_map(path: Path, *, allow_empty_value: bool = False) -> dict[str, str]:
    """``<key> <value>`` lines of a Kaldi table (``text``, ``utt2spk``, ``wav.scp``) as a dict.

    Raises ValueError naming the line for a missing value (unless ``allow_empty_value``), a
    repeated key or non-UTF-8 bytes.
    """
    return {k: v for k, (_, v) in _read_table(path, allow_empty_value=allow_empty_value).items()}


def _scp_paths(data_dir: Path, base: Path) -> dict[str, Path]:
    scp = data_dir / "wav.scp"
    out = {}
    for utt, (lineno, value) in _read_table(scp, allow_empty_value=False).items():
        if value.endswith("|") or value == "-" or _ARK_OFFSET.search(value):
            raise ValueError(
                f"{scp}:{lineno}: {value!r} is a piped command, stdin or archive offset, which is unsupported; "
                "write the audio to files (e.g. run the command into <utt>.wav) and list plain paths"
            )
        path = Path(value)
        out[utt] = path if path.is_absolute() else base / path
    return out


def _tree_paths(data_dir: Path, cfg: KaldiDirConfig) -> tuple[dict[str, Path], Path]:
    if cfg.wave_dir:
        tree = Path(cfg.wave_dir).resolve()
        if not tree.is_dir():
            raise FileNotFoundError(f"kaldi: wave_dir {tree} is not a folder")
    else:
        candidates = [data_dir / "WAVE", data_dir.parent / "WAVE", data_dir / "wav"]
        found = next((c for c in candidates if c.is_dir()), None)
        if found is None:
            raise FileNotFoundError(
                f"kaldi: {data_dir} has no wav.scp and none of {[str(c) for c in candidates]} exists; set wave_dir"
            )
        tree = found
    exts = {"." + e.lower() for e in cfg.extensions}
    out: dict[str, Path] = {}
    for path in sorted(tree.rglob("*")):
        if path.suffix.lower() in exts and path.is_file():
            if path.stem in out:
                raise ValueError(f"kaldi: {out[path.stem]} and {path} both match utterance {path.stem!r}")
            out[path.stem] = path
    return out, tree


def prepare_kaldi_dir(cfg: KaldiDirConfig) -> dict[str, list[Utterance]]:
    """Utterances of a Kaldi data folder, split by ``cfg.split``.

    Raises FileNotFoundError for a missing folder or audio file, ValueError for an unsupported
    ``wav.scp`` entry or ``segments`` file, a malformed table line, or a missing transcript.
    """
    cfg.validate()
    data_dir = Path(cfg.data_dir).resolve()
    if not data_dir.is_dir():
        raise FileNotFoundError(f"kaldi: {data_dir} is not a folder")
    if (data_dir / "segments").exists():
        raise ValueError(f"kaldi: {data_dir / 'segments'} is unsupported; cut the segments into files first")
    text = read_kaldi_map(data_dir / "text", allow_empty_value=True) if (data_dir / "text").is_file() else {}
    spk = read_kaldi_map(data_dir / "utt2spk") if (data_dir / "utt2spk").is_file() else {}
    if (data_dir / "wav.scp").is_file():
        base = Path(cfg.base_dir).resolve() if cfg.base_dir else data_dir.parent.parent
        audio = _scp_paths(data_dir, base)
        ids = list(audio)
        source = str(data_dir / "wav.scp")
    else:
        audio, tree = _tree_paths(data_dir, cfg)
        ids = list(text or spk)
        source = str(tree)
        if not ids:
            raise ValueError(f"kaldi: {data_dir} has neither wav.scp nor a text/utt2spk file listing utterances")
        absent = [u for u in ids if u not in audio]
        if absent:
            raise FileNotFoundError(f"kaldi: no audio file for {absent[0]!r} under {tree} ({len(absent)} missing)")
    if not spk:
        logger.warning("kaldi: %s has no utt2spk; speakers are 'unknown'", data_dir)
    utts = []
    for utt in ids:
        if utt not in text and cfg.require_text:
            raise ValueError(
                f"kaldi: utterance {utt!r} (from {source}) has no line in {data_dir / 'text'}; "
                "add it or set require_text=False"
            )
        if not audio[utt].is_file():
            raise FileNotFoundError(f"kaldi: audio file {audio[utt]} of utterance {utt!r} does not exist")
        utts.append(probe_utterance(utt, audio[utt], speaker=spk.get(utt, "unknown"), text=text.get(utt)))
    splits = apply_split(utts, cfg.split, default_name=data_dir.name)
    logger.info("kaldi %s:\n%s", data_dir, describe_splits(splits))
    return splits
