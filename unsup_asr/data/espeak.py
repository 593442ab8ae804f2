"""Speech synthesis with exact phone boundaries, through libespeak-ng's C API (ctypes).

This is the only module that loads libespeak-ng. :func:`synthesize` returns the waveform at
espeak's own rate (22050 Hz) together with the phone segments espeak reports as *phoneme events*:
each event carries the output sample index at which the phone starts and its IPA symbol, so the
boundaries are exact, not estimated. Phone symbols pass through
:func:`unsup_asr.text.phonemize.normalize_phone`, the same normalisation the unpaired text gets,
so audio labels and text share one phone set.

libespeak-ng keeps global state (voice, rate, pitch, callback), so it is initialised once per
process and every call holds a lock. Synthesis is deterministic: the same text, voice, rate and
pitch give the same samples.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass

import numpy as np

from unsup_asr.text.phonemize import normalize_phone

_LIB_NAME = "libespeak-ng.so.1"
_INSTALL_HINT = "install it with `apt-get install espeak-ng` (or run scripts/setup.sh)"

# Constants of espeak-ng's speak_lib.h (API revision 12, espeak-ng 1.51).
_AUDIO_OUTPUT_SYNCHRONOUS = 0x02
_INIT_PHONEME_EVENTS = 0x0001
_INIT_PHONEME_IPA = 0x0002
_CHARS_UTF8 = 0x01
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7
_PARAM_RATE = 1
_PARAM_PITCH = 3

RATE_RANGE_WPM = (80, 450)
"""Speaking rates espeak-ng accepts, in words per minute."""
PITCH_RANGE = (0, 100)
"""Base pitch range of espeak-ng (arbitrary units; 50 is the voice's normal pitch)."""


class _EventId(ctypes.Union):
    _fields_ = (("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8))


class _Event(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    )


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Synthesis:
    """One synthesized utterance."""

    wav: np.ndarray
    """Waveform, float32 in [-1, 1], shape ``(N,)`` samples at ``sample_rate``."""
    sample_rate: int
    """Sample rate of ``wav`` in Hz (espeak-ng synthesizes at 22050 Hz)."""
    alignment: list[tuple[float, float, str]]
    """Phone segments ``(start_s, end_s, phone)`` in seconds, in time order, non-overlapping;
    pauses are gaps between segments, not phones."""

    @property
    def phones(self) -> list[str]:
        """The phone sequence of :attr:`alignment`."""
        return [p for _, _, p in self.alignment]


class _Engine:
    """The process-wide libespeak-ng instance and the buffers its callback fills."""

    def __init__(self) -> None:
        try:
            self.lib = ctypes.CDLL(_LIB_NAME)
        except OSError as e:
            raise RuntimeError(f"libespeak-ng not found: {_INSTALL_HINT} ({e})") from e
        self.chunks: list[np.ndarray] = []
        self.events: list[tuple[int, str]] = []
        self.callback = _Callback(self._on_audio)  # kept alive as long as the engine
        options = _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA
        self.sample_rate = int(self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, options))
        if self.sample_rate <= 0:
            raise RuntimeError(
                f"libespeak-ng failed to initialise (code {self.sample_rate}): its data files are missing "
                f"or broken; reinstall it ({_INSTALL_HINT.removeprefix('install it with ')})"
            )
        self.lib.espeak_SetSynthCallback(self.callback)

    def _on_audio(self, wav: ctypes._Pointer[ctypes.c_short], num_samples: int, events: ctypes.Array[_Event]) -> int:
        if num_samples > 0 and wav:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EVENT_PHONEME:
                self.events.append((int(ev.sample), ev.id.string.decode("utf-8", errors="strict")))
            i += 1
        return 0

    def run(self, text: str, *, voice: str, rate_wpm: int, pitch: int) -> Synthesis:
        if self.lib.espeak_SetVoiceByName(voice.encode("utf-8")) != 0:
            raise ValueError(
                f"espeak-ng has no voice {voice!r}; list voices with `espeak-ng --voices` and variants with "
                "`espeak-ng --voices=variant` (e.g. 'en-us+f2')"
            )
        self.lib.espeak_SetParameter(_PARAM_RATE, rate_wpm, 0)
        self.lib.espeak_SetParameter(_PARAM_PITCH, pitch, 0)
        self.chunks, self.events = [], []
        data = text.encode("utf-8")
        err = self.lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, _CHARS_UTF8, None, None)
        self.lib.espeak_Synchronize()
        if err != 0:
            raise RuntimeError(f"libespeak-ng failed to synthesize {text[:60]!r} (error {err})")
        pcm = np.concatenate(self.chunks) if self.chunks else np.zeros(0, dtype=np.int16)
        wav = pcm.astype(np.float32) / 32768.0
        return Synthesis(wav=wav, sample_rate=self.sample_rate, alignment=self._segments(len(wav)))

    def _segments(self, num_samples: int) -> list[tuple[float, float, str]]:
        """Phone segments from the event list: a phone lasts until the next event (phone or pause)."""
        onsets = [min(s, num_samples) for s, _ in self.events] + [num_samples]
        segments = []
        for k, (_, name) in enumerate(self.events):
            phone = normalize_phone(name)
            if phone:
                segments.append((onsets[k] / self.sample_rate, onsets[k + 1] / self.sample_rate, phone))
        return segments


_lock = threading.Lock()
_engine: _Engine | None = None


def synthesize(text: str, *, voice: str, rate_wpm: int, pitch: int) -> Synthesis:
    """Speak ``text`` with espeak-ng and return the audio with its phone alignment.

    ``voice`` is an espeak-ng voice name with an optional variant (``"en-us+f2"``), ``rate_wpm``
    the speaking rate in words per minute (``RATE_RANGE_WPM``) and ``pitch`` the base pitch
    (``PITCH_RANGE``, 50 = normal). espeak-ng reads all-caps words as acronyms or with emphasis:
    pass text through :func:`unsup_asr.text.phonemize.normalize_text` first, as the text side does.
    """
    if not text.strip():
        raise ValueError("cannot synthesize empty text: pass a sentence with at least one word")
    if not RATE_RANGE_WPM[0] <= rate_wpm <= RATE_RANGE_WPM[1]:
        raise ValueError(f"rate_wpm={rate_wpm} is outside espeak-ng's range {RATE_RANGE_WPM} (words/min)")
    if not PITCH_RANGE[0] <= pitch <= PITCH_RANGE[1]:
        raise ValueError(f"pitch={pitch} is outside espeak-ng's range {PITCH_RANGE}")
    global _engine
    with _lock:
        if _engine is None:
            _engine = _Engine()
        return _engine.run(text, voice=voice, rate_wpm=rate_wpm, pitch=pitch)
