"""Speech synthesis with exact phone boundaries, through libespeak-ng's C API (ctypes).

This is the only module that loads libespeak-ng. :func:`synthesize` returns the waveform at
espeak's own rate (22050 Hz) together with the phone segments espeak reports as *phoneme events*:
each event carries the output sample index at which the phone starts and its IPA symbol, so the
boundaries are exact, not estimated. Phone symbols pass through
:func:`unsup_asr.text.phonemize.normalize_phone`, the same normalisation the unpaired text gets,
so audio labels and text share one phone set.

**Determinism.** libespeak-ng keeps synthesis state in C static variables that no API call
resets (the pitch-flutter phase, the roughness cycle counter), so two identical calls on one
loaded library give slightly different audio and boundaries. :func:`synthesize` therefore loads a
private copy of the library, initialises it, synthesizes, terminates and unloads it on every call
(about 10 ms), and seeds libc's ``rand()`` (breath noise) to a fixed value: the result is a pure
function of the arguments, whatever was synthesized before, in any process. Calls are serialised
by a lock.
"""

from __future__ import annotations

import _ctypes
import atexit
import ctypes
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

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
_RAND_SEED = 1

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


class _DlInfo(ctypes.Structure):
    _fields_ = (
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
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


class _Recorder:
    """Collects the audio chunks and phoneme events the synthesis callback receives."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.events: list[tuple[int, str]] = []
        self.callback = _Callback(self._on_audio)  # one C function pointer for the process lifetime

    def _on_audio(self, wav: ctypes._Pointer[ctypes.c_short], num_samples: int, events: ctypes.Array[_Event]) -> int:
        if num_samples > 0 and wav:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            if events[i].type == _EVENT_PHONEME:
                self.events.append((int(events[i].sample), events[i].id.string.decode("utf-8")))
            i += 1
        return 0


_lock = threading.Lock()
_recorder: _Recorder | None = None
_private_copy: Path | None = None


def _private_library() -> Path:
    """A copy of libespeak-ng in a temporary folder that only this module loads (made once)."""
    global _private_copy
    if _private_copy is None:
        try:
            lib = ctypes.CDLL(_LIB_NAME)
        except OSError as e:
            raise RuntimeError(f"libespeak-ng not found: {_INSTALL_HINT} ({e})") from e
        info = _DlInfo()
        if not ctypes.CDLL(None).dladdr(ctypes.cast(lib.espeak_Initialize, ctypes.c_void_p), ctypes.byref(info)):
            raise RuntimeError(f"cannot locate the file of {_LIB_NAME}; reinstall espeak-ng ({_INSTALL_HINT})")
        folder = tempfile.mkdtemp(prefix="unsup_asr_espeak_")
        atexit.register(shutil.rmtree, folder, True)
        _private_copy = Path(
            shutil.copy(Path(info.dli_fname.decode()).resolve(), Path(folder) / "libespeak-ng-private.so")
        )
    return _private_copy


def _segments(events: list[tuple[int, str]], num_samples: int, sample_rate: int) -> list[tuple[float, float, str]]:
    """Phone segments from the event list: a phone lasts until the next event (phone or pause).

    espeak-ng sometimes renders a phone inside its predecessor (mostly a post-vocalic /l/ merged
    into the vowel, ~0.4% of phones), reporting it with no samples of its own; such phones share
    the preceding phone's span equally, so every segment has a positive length.
    """
    onsets = [min(s, num_samples) for s, _ in events] + [num_samples]
    raw = [(onsets[k], onsets[k + 1], p) for k, (_, name) in enumerate(events) if (p := normalize_phone(name))]
    segments: list[tuple[float, float, str]] = []
    i = 0
    while i < len(raw):
        start, end, _ = raw[i]
        j = i + 1
        while j < len(raw) and raw[j][0] == raw[j][1] == end:
            j += 1
        n = j - i
        for m in range(n):
            a, b = start + (end - start) * m / n, start + (end - start) * (m + 1) / n
            segments.append((a / sample_rate, b / sample_rate, raw[i + m][2]))
        i = j
    return segments


def _run(rec: _Recorder, lib: ctypes.CDLL, text: str, voice: str, rate_wpm: int, pitch: int) -> Synthesis:
    sample_rate = int(
        lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA)
    )
    if sample_rate <= 0:
        raise RuntimeError(
            f"libespeak-ng failed to initialise (code {sample_rate}): its data files are missing or broken; "
            "reinstall it with `apt-get install --reinstall espeak-ng espeak-ng-data`"
        )
    lib.espeak_SetSynthCallback(rec.callback)
    if lib.espeak_SetVoiceByName(voice.encode("utf-8")) != 0:
        raise ValueError(
            f"espeak-ng has no voice {voice!r}; list voices with `espeak-ng --voices` and variants with "
            "`espeak-ng --voices=variant` (e.g. 'en-us+f2')"
        )
    lib.espeak_SetParameter(_PARAM_RATE, rate_wpm, 0)
    lib.espeak_SetParameter(_PARAM_PITCH, pitch, 0)
    rec.chunks, rec.events = [], []
    data = text.encode("utf-8")
    ctypes.CDLL(None).srand(_RAND_SEED)
    err = lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, _CHARS_UTF8, None, None)
    lib.espeak_Synchronize()
    if err != 0:
        raise RuntimeError(f"libespeak-ng failed to synthesize {text[:60]!r} (error {err})")
    pcm = np.concatenate(rec.chunks) if rec.chunks else np.zeros(0, dtype=np.int16)
    wav = pcm.astype(np.float32) / 32768.0
    return Synthesis(wav=wav, sample_rate=sample_rate, alignment=_segments(rec.events, len(wav), sample_rate))


def synthesize(text: str, *, voice: str, rate_wpm: int, pitch: int) -> Synthesis:
    """Speak ``text`` with espeak-ng and return the audio with its phone alignment (deterministic).

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
    global _recorder
    with _lock:
        path = _private_library()
        if _recorder is None:
            _recorder = _Recorder()
        lib = ctypes.CDLL(str(path))
        try:
            return _run(_recorder, lib, text, voice, rate_wpm, pitch)
        finally:
            lib.espeak_Terminate()
            _ctypes.dlclose(lib._handle)
