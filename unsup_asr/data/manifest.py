"""The utterance record and its JSONL manifest.

One line of a manifest is one :class:`Utterance` as a JSON object. Times are in **seconds**;
``num_samples`` counts samples of the audio *file* at ``sample_rate`` (the file's own rate, not
necessarily 16 kHz: :func:`unsup_asr.data.audio.load_audio` resamples to 16 kHz on load).

Example line::

    {"id": "f1_0003", "audio": "/data/demo/wav/f1_0003.wav", "sample_rate": 16000,
     "num_samples": 41760, "speaker": "f1", "text": "HELLO WORLD",
     "phones": ["h", "ə", "l", "oʊ", "w", "ɜː", "l", "d"],
     "alignment": [[0.01, 0.06, "h"], [0.06, 0.11, "ə"], ...]}

``alignment`` is a list of ``[start_s, end_s, phone]`` triples (gold phone segments), present only
where a corpus provides them; ``phones`` is the reference phone sequence used for PER (never for
training). ``channels`` records the number of channels of the file (down-mixed on load).

``speech`` is present only when prepare_data ran voice activity detection (``data.vad.enabled``): the
``[start_s, end_s]`` regions of the original audio that are kept, sorted and disjoint. Features are
then computed on those regions concatenated, while ``alignment`` stays in original time;
:class:`unsup_asr.data.timemap.TimeMap` converts between the two.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from unsup_asr.io import atomic_write_text


@dataclass(kw_only=True)
class Utterance:
    """One utterance of a corpus."""

    id: str
    """Unique utterance id within a corpus."""
    audio: str
    """Path of the audio file (absolute, or relative to the manifest's folder)."""
    sample_rate: int
    """Sample rate of the audio file in Hz."""
    num_samples: int
    """Number of samples (per channel) in the audio file."""
    speaker: str = "unknown"
    """Speaker id."""
    channels: int = 1
    """Number of channels in the file; audio is down-mixed to mono on load."""
    text: str | None = None
    """Orthographic transcript, if known (evaluation only)."""
    phones: list[str] | None = None
    """Reference phone sequence, if known (evaluation only)."""
    alignment: list[tuple[float, float, str]] | None = None
    """Gold phone segments ``(start_s, end_s, phone)``, if known (evaluation only)."""
    speech: list[tuple[float, float]] | None = None
    """Kept speech regions ``(start_s, end_s)`` in original time, written by prepare_data's voice
    activity detection; None = the whole audio is used (see :mod:`unsup_asr.data.timemap`)."""
    extra: dict[str, str] = field(default_factory=dict)
    """Free-form corpus-specific fields."""

    @property
    def duration_s(self) -> float:
        """Duration in seconds."""
        return self.num_samples / self.sample_rate

    def to_json(self) -> str:
        d = asdict(self)
        d = {k: v for k, v in d.items() if v is not None and v != {}}
        if self.alignment is not None:
            d["alignment"] = [[round(s, 5), round(e, 5), p] for s, e, p in self.alignment]
        if self.speech is not None:
            d["speech"] = [[round(s, 6), round(e, 6)] for s, e in self.speech]
        return json.dumps(d, ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict[str, object], *, where: str = "") -> Utterance:
        missing = [k for k in ("id", "audio", "sample_rate", "num_samples") if k not in d]
        if missing:
            raise ValueError(f"{where}: manifest record lacks required field(s) {missing}: {d}")
        ali = d.get("alignment")
        alignment = None
        if ali is not None:
            alignment = [(float(s), float(e), str(p)) for s, e, p in ali]  # type: ignore[attr-defined]
        regions = d.get("speech")
        speech = None
        if regions is not None:
            speech = [(float(s), float(e)) for s, e in regions]  # type: ignore[attr-defined]
        return cls(
            id=str(d["id"]),
            audio=str(d["audio"]),
            sample_rate=int(d["sample_rate"]),  # type: ignore[call-overload]
            num_samples=int(d["num_samples"]),  # type: ignore[call-overload]
            speaker=str(d.get("speaker", "unknown")),
            channels=int(d.get("channels", 1)),  # type: ignore[call-overload]
            text=None if d.get("text") is None else str(d["text"]),
            phones=None if d.get("phones") is None else [str(p) for p in d["phones"]],  # type: ignore[attr-defined]
            alignment=alignment,
            speech=speech,
            extra={str(k): str(v) for k, v in dict(d.get("extra", {})).items()},  # type: ignore[call-overload]
        )


def write_manifest(path: str | os.PathLike[str], utts: Iterable[Utterance]) -> Path:
    """Write utterances as JSONL, atomically (a killed write leaves no partial manifest)."""
    path = Path(path)
    text = "".join(u.to_json() + "\n" for u in utts)
    atomic_write_text(path, text)
    return path


def iter_manifest(path: str | os.PathLike[str]) -> Iterator[Utterance]:
    """Yield the utterances of a JSONL manifest; relative audio paths resolve against its folder."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest {path} does not exist; run the prepare_data stage first")
    root = path.parent
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({e}); regenerate the manifest") from e
            utt = Utterance.from_dict(d, where=f"{path}:{lineno}")
            if not os.path.isabs(utt.audio):
                utt.audio = str(root / utt.audio)
            yield utt


def read_manifest(path: str | os.PathLike[str]) -> list[Utterance]:
    """Read a whole JSONL manifest into a list."""
    return list(iter_manifest(path))
