"""Corpus sources: which corpora a run reads, and which run split each of their splits feeds.

A recipe lists one or more sources; each names its ``kind`` and fills the matching typed config,
then maps the corpus's own split names onto the run's (``train``, ``valid``, ``test`` and any
further evaluation splits). Example (``recipes/real_small``)::

    data:
      corpus: sources
      sources:
        - kind: timit
          timit: {root: ../shared/data/timit_sample, split_mode: speakers}
          splits: {test: timit}
        - kind: folder
          folder: {root: ../shared/data/kathleen, manifest: manifest.tsv,
                   split: {fractions: {train: 0.8, valid: 0.05, test: 0.15}, by: sentence}}
          splits: {train: train, valid: valid, test: kathleen}

Splits of several sources that map onto the same run split are concatenated (utterance ids must
stay unique). A corpus split not named in ``splits`` is left out, unless ``splits`` is empty, which
keeps every split under its own name.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unsup_asr.data.folder import FolderConfig, prepare_folder
from unsup_asr.data.kaldi import KaldiDirConfig, prepare_kaldi_dir
from unsup_asr.data.librispeech import LibriSpeechConfig, prepare_librispeech
from unsup_asr.data.ljspeech import LJSpeechConfig, prepare_ljspeech
from unsup_asr.data.manifest import Utterance
from unsup_asr.data.timit import TimitConfig, prepare_timit

TIMIT_PHONE_SET = "timit39"
"""``Utterance.extra["phone_set"]`` of TIMIT references (Lee & Hon's 39 phones; see
:mod:`unsup_asr.text.lexicon` for how they are compared with word-derived phones)."""

PREPARERS: dict[str, Callable[[Any], dict[str, list[Utterance]]]] = {
    "timit": prepare_timit,
    "librispeech": prepare_librispeech,
    "ljspeech": prepare_ljspeech,
    "kaldi": prepare_kaldi_dir,
    "folder": prepare_folder,
}
"""Source kind -> preparer; the kind is also the name of the source's config field."""


@dataclass(kw_only=True)
class SourceConfig:
    """One corpus and where its splits go."""

    kind: str = "folder"
    """``timit``, ``librispeech``, ``ljspeech``, ``kaldi`` or ``folder``: which field below is used."""
    timit: TimitConfig | None = None
    """TIMIT (LDC or sample layout)."""
    librispeech: LibriSpeechConfig | None = None
    """LibriSpeech subsets or unlabelled audio folders."""
    ljspeech: LJSpeechConfig | None = None
    """LJSpeech (``metadata.csv`` + ``wavs/``)."""
    kaldi: KaldiDirConfig | None = None
    """A Kaldi-style data folder."""
    folder: FolderConfig | None = None
    """A folder of audio, optionally with a TSV of transcripts."""
    splits: dict[str, str] = field(default_factory=dict)
    """Corpus split -> run split; ``{}`` keeps every corpus split under its own name."""

    def corpus_config(self) -> Any:
        """The typed config of ``kind``."""
        if self.kind not in PREPARERS:
            raise ValueError(f"data source kind={self.kind!r} must be one of {sorted(PREPARERS)}")
        cfg = getattr(self, self.kind)
        if cfg is None:
            raise ValueError(f"data source kind={self.kind!r} needs its settings under `{self.kind}:` (at least root)")
        return cfg

    def validate(self) -> None:
        """Raise ValueError on an unknown kind or invalid corpus settings."""
        self.corpus_config().validate()
        if any(not k or not v for k, v in self.splits.items()):
            raise ValueError(f"data source {self.kind}: split names in {self.splits} must be non-empty")


def _resolved(corpus_cfg: Any, root: str) -> Any:
    """A copy of ``corpus_cfg`` whose folder fields are absolute (relative ones joined onto ``root``,
    itself relative to the current directory), so manifests never hold cwd-relative paths."""
    base = Path(root or ".").resolve()
    changes = {
        name: str(base / value)
        for name in ("root", "data_dir", "wave_dir")
        if isinstance(value := getattr(corpus_cfg, name, ""), str) and value and not Path(value).is_absolute()
    }
    return dataclasses.replace(corpus_cfg, **changes)


def prepare_source(cfg: SourceConfig, root: str = "") -> dict[str, list[Utterance]]:
    """Read one source (relative folders resolved against ``root``) and rename its splits to run
    splits (see the module docstring)."""
    cfg.validate()
    corpus = PREPARERS[cfg.kind](_resolved(cfg.corpus_config(), root))
    out: dict[str, list[Utterance]] = {}
    for name, utts in corpus.items():
        target = cfg.splits.get(name, name if not cfg.splits else "")
        if not target:
            continue
        if cfg.kind == "timit":
            for u in utts:
                u.extra["phone_set"] = TIMIT_PHONE_SET
        out.setdefault(target, []).extend(utts)
    return out


def prepare_sources(sources: list[SourceConfig], root: str = "") -> dict[str, list[Utterance]]:
    """Read every source and merge splits with the same run name; ids must be unique per split."""
    merged: dict[str, list[Utterance]] = {}
    for source in sources:
        for name, utts in prepare_source(source, root).items():
            merged.setdefault(name, []).extend(utts)
    for name, utts in merged.items():
        dup = [i for i, n in Counter(u.id for u in utts).items() if n > 1]
        if dup:
            raise ValueError(f"split {name!r} holds duplicate utterance ids from several sources, e.g. {dup[:3]}")
    return merged
