"""The one place that maps between *kept* time and *original* time of a silence-trimmed utterance.

When voice activity detection is on (:mod:`unsup_asr.data.vad`), an utterance's manifest record
lists the speech regions it keeps, ``speech = [(start_s, end_s), ...]`` in seconds of the original
audio. Features are computed on those regions cut out and concatenated (the *kept* audio), so
frame ``t`` lies at kept time ``t * shift``; gold alignments stay in original time. :class:`TimeMap`
converts between the two:

* ``to_original(t)``: kept time -> original time. A time at the junction of two regions maps to the
  start of the later region (the removed silence lies before it); times before 0 or past the end
  extrapolate linearly from the first or last region.
* ``to_kept(t)``: original time -> kept time. A time inside removed silence maps to the junction
  where that silence was cut out (before the first region: 0; after the last: the kept duration).

Region bounds are quantised to samples at 16 kHz (``round(t * 16000)``), exactly as :meth:`TimeMap.cut`
cuts the waveform, so the kept time of every cut is exact. Without ``speech`` the map is the identity
and nothing changes. Scoring rule: predicted boundaries are mapped to original time before boundary
P/R/F1, and frame labels are looked up at each kept frame's original time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

import numpy as np

from unsup_asr.data.manifest import Utterance
from unsup_asr.features.frames import SAMPLE_RATE


class TimeMap:
    """Kept <-> original time of one utterance (identity when ``speech`` is None)."""

    def __init__(self, speech: Sequence[tuple[float, float]] | None, *, where: str = "") -> None:
        """``speech``: kept regions ``[(start_s, end_s), ...]`` in original seconds, sorted and not
        overlapping; ``None``: nothing removed. ``where`` names the utterance in error messages."""
        self.identity = speech is None
        """True when nothing was removed (no ``speech`` field)."""
        bounds = np.rint(np.asarray(speech if speech is not None else [], dtype=np.float64) * SAMPLE_RATE)
        bounds = bounds.reshape(-1, 2).astype(np.int64)
        if speech is not None:
            _check_regions(bounds, where)
        self.sample_bounds = bounds
        """``(R, 2)`` int64 start/end sample (16 kHz, end exclusive) of each kept region."""
        self.starts = bounds[:, 0] / SAMPLE_RATE
        """``(R,)`` original start time (s) of each kept region."""
        self.lengths = (bounds[:, 1] - bounds[:, 0]) / SAMPLE_RATE
        """``(R,)`` duration (s) of each kept region."""
        self.kept_starts = np.concatenate([[0.0], np.cumsum(bounds[:, 1] - bounds[:, 0])[:-1]]) / SAMPLE_RATE
        """``(R,)`` kept time (s) at which each region begins in the concatenated audio."""

    @classmethod
    def of(cls, utt: Utterance) -> TimeMap:
        """The map of a manifest record (identity when it has no ``speech`` regions)."""
        return cls(utt.speech, where=f"utterance {utt.id}")

    @property
    def kept_duration_s(self) -> float | None:
        """Total kept duration in seconds (None for the identity map)."""
        return None if self.identity else float(self.lengths.sum())

    @overload
    def to_original(self, t: float) -> float: ...
    @overload
    def to_original(self, t: np.ndarray) -> np.ndarray: ...
    def to_original(self, t: float | np.ndarray) -> float | np.ndarray:
        """Kept time(s) in seconds -> original time(s) in seconds (same shape)."""
        if self.identity:
            return t
        x = np.asarray(t, dtype=np.float64)
        i = np.clip(np.searchsorted(self.kept_starts, x, side="right") - 1, 0, len(self.starts) - 1)
        out = self.starts[i] + (x - self.kept_starts[i])
        return float(out) if np.ndim(t) == 0 else out

    @overload
    def to_kept(self, t: float) -> float: ...
    @overload
    def to_kept(self, t: np.ndarray) -> np.ndarray: ...
    def to_kept(self, t: float | np.ndarray) -> float | np.ndarray:
        """Original time(s) in seconds -> kept time(s) in seconds (same shape)."""
        if self.identity:
            return t
        x = np.asarray(t, dtype=np.float64)
        i = np.searchsorted(self.starts, x, side="right") - 1
        before = i < 0
        i = np.clip(i, 0, len(self.starts) - 1)
        out = self.kept_starts[i] + np.clip(x - self.starts[i], 0.0, self.lengths[i])
        out = np.where(before, 0.0, out)
        return float(out) if np.ndim(t) == 0 else out

    def cut(self, wav: np.ndarray) -> np.ndarray:
        """The kept audio: the regions of ``wav (N,)`` (16 kHz) concatenated, ``(M,)``; ``wav`` itself
        for the identity map. Raises ValueError when a region lies past the end of ``wav``."""
        if self.identity:
            return wav
        if self.sample_bounds[-1, 1] > wav.shape[0]:
            raise ValueError(
                f"speech region ending at {self.sample_bounds[-1, 1] / SAMPLE_RATE:.3f} s lies past the end of the "
                f"{wav.shape[0] / SAMPLE_RATE:.3f} s audio; the manifest is stale: re-run prepare_data"
            )
        return np.concatenate([wav[a:b] for a, b in self.sample_bounds])


def _check_regions(bounds: np.ndarray, where: str) -> None:
    if len(bounds) == 0:
        raise ValueError(f"{where}: empty speech region list; a VAD that finds no speech must keep the whole audio")
    if np.any(bounds[:, 0] < 0) or np.any(bounds[:, 1] <= bounds[:, 0]):
        raise ValueError(f"{where}: speech regions must have 0 <= start < end, got {(bounds / SAMPLE_RATE).tolist()}")
    if np.any(bounds[1:, 0] < bounds[:-1, 1]):
        raise ValueError(f"{where}: speech regions overlap or are unsorted: {(bounds / SAMPLE_RATE).tolist()}")
