"""Audio loading: soundfile in, 16 kHz mono float32 out.

Every audio read in unsup-asr goes through :func:`load_audio`. Files at another sample rate are
resampled (polyphase, exact rational ratio) and multi-channel files are down-mixed by averaging;
the manifest records the file's own ``sample_rate`` and ``channels``. :func:`load_utterance` gives
the audio the featurizers see: only the speech regions when the manifest records a VAD's (``speech``).
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from unsup_asr.data.manifest import Utterance
from unsup_asr.data.timemap import TimeMap
from unsup_asr.features.frames import SAMPLE_RATE


def audio_info(path: str | os.PathLike[str]) -> tuple[int, int, int]:
    """``(sample_rate, num_samples, channels)`` of an audio file, with a clear error if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file {path} does not exist; fix the manifest or re-run prepare_data")
    try:
        info = sf.info(str(path))
    except Exception as e:  # soundfile raises RuntimeError/LibsndfileError with terse messages
        raise ValueError(
            f"audio file {path} is corrupt or in an unsupported format ({e}); re-encode it as WAV/FLAC "
            "(e.g. `sox in out.wav`) or remove it from the manifest"
        ) from e
    return int(info.samplerate), int(info.frames), int(info.channels)


def load_audio(path: str | os.PathLike[str], target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Read ``path`` as float32 mono at ``target_sr`` Hz, shape ``(N,)``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file {path} does not exist; fix the manifest or re-run prepare_data")
    try:
        wav, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:
        raise ValueError(
            f"audio file {path} is corrupt or in an unsupported format ({e}); re-encode it as WAV/FLAC "
            "(e.g. `sox in out.wav`) or remove it from the manifest"
        ) from e
    if wav.shape[0] == 0:
        raise ValueError(f"audio file {path} is empty (0 samples); remove it from the manifest")
    mono = wav.mean(axis=1) if wav.shape[1] > 1 else wav[:, 0]
    if sr != target_sr:
        ratio = Fraction(target_sr, int(sr)).limit_denominator(1000)
        mono = resample_poly(mono, ratio.numerator, ratio.denominator).astype(np.float32)
    if not np.all(np.isfinite(mono)):
        raise ValueError(f"audio file {path} contains NaN or Inf samples; re-encode or remove it")
    return np.ascontiguousarray(mono, dtype=np.float32)


def load_utterance(utt: Utterance) -> np.ndarray:
    """The audio of ``utt`` as featurized: float32 mono at 16 kHz, shape ``(M,)``; with VAD regions
    (``utt.speech``) only those regions, concatenated (see :class:`unsup_asr.data.timemap.TimeMap`)."""
    wav = load_audio(utt.audio)
    try:
        return TimeMap.of(utt).cut(wav)
    except ValueError as e:
        raise ValueError(f"{utt.audio} (utterance {utt.id}): {e}") from e
