"""Tests for the libespeak-ng wrapper: audio, phone alignment, determinism, shared phone set."""

from __future__ import annotations

import numpy as np
import pytest

from unsup_asr.data import espeak
from unsup_asr.data.espeak import synthesize
from unsup_asr.metrics.edit import per
from unsup_asr.text.phonemize import normalize_text, phonemize_words

SENTENCES = [
    "Emma Woodhouse handsome clever and rich with a comfortable home",
    "She was the youngest of the two daughters of a most affectionate father",
    "Her mother had died too long ago for her to have more than a remembrance",
    "It was a far far better thing that I do than I have ever done",
    "Call me Ishmael some years ago never mind how long precisely",
    "The wedding over and the bride people gone her father sat down",
    "Whatever I may give them occasionally will be of far greater assistance",
    "Father Brown blinked at the lamplit river and said nothing at all",
    "The moon rose over the quiet harbour while the whalers slept",
    "Anne was enabled to place herself much nearer the end of the bench",
]


def test_synthesize_audio_and_alignment() -> None:
    syn = synthesize("hello world, this is a test", voice="en-us+f2", rate_wpm=170, pitch=50)
    assert syn.sample_rate == 22050
    assert syn.wav.dtype == np.float32 and syn.wav.ndim == 1
    duration = len(syn.wav) / syn.sample_rate
    assert 0.8 < duration < 4.0
    assert np.abs(syn.wav).max() <= 1.0 and np.abs(syn.wav).max() > 0.05
    assert syn.phones[:8] == ["h", "ə", "l", "oʊ", "w", "ɜː", "l", "d"]
    prev_end = 0.0
    for start, end, phone in syn.alignment:
        assert prev_end <= start < end <= duration + 1e-9, (start, end, phone)
        prev_end = end
    # the comma is a pause: a gap between "world" and "this"
    d_end = syn.alignment[7][1]
    assert syn.alignment[8][0] - d_end > 0.05


def test_synthesize_is_deterministic_whatever_ran_before() -> None:
    first = synthesize("the quick brown fox", voice="en-us+m1", rate_wpm=160, pitch=40)
    synthesize("something else entirely", voice="en-us+f4", rate_wpm=300, pitch=90)
    again = synthesize("the quick brown fox", voice="en-us+m1", rate_wpm=160, pitch=40)
    assert np.array_equal(first.wav, again.wav)
    assert first.alignment == again.alignment


def test_rate_and_voice_change_the_audio() -> None:
    slow = synthesize("the quick brown fox", voice="en-us+m1", rate_wpm=150, pitch=50)
    fast = synthesize("the quick brown fox", voice="en-us+m1", rate_wpm=300, pitch=50)
    other = synthesize("the quick brown fox", voice="en-us+f2", rate_wpm=150, pitch=50)
    assert len(fast.wav) < 0.8 * len(slow.wav)
    assert slow.phones == fast.phones == other.phones
    assert not np.array_equal(slow.wav[: len(other.wav)], other.wav[: len(slow.wav)])


def test_event_phones_match_phonemizer() -> None:
    """Audio labels (espeak events) and unpaired text (phonemizer) share one phone sequence."""
    voices = ["en-us+m1", "en-us+f2", "en-us+m3", "en-us+f4"]
    events = [
        synthesize(normalize_text(s), voice=voices[i % 4], rate_wpm=150 + 5 * i, pitch=35 + 3 * i).phones
        for i, s in enumerate(SENTENCES)
    ]
    text = [[p for word in sent for p in word] for sent in phonemize_words(SENTENCES)]
    mismatch = per(text, events)
    assert mismatch.ref_len > 300
    assert mismatch.rate <= 0.05, mismatch


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="empty"):
        synthesize("   ", voice="en-us", rate_wpm=170, pitch=50)
    with pytest.raises(ValueError, match="rate_wpm"):
        synthesize("hello", voice="en-us", rate_wpm=10, pitch=50)
    with pytest.raises(ValueError, match="pitch"):
        synthesize("hello", voice="en-us", rate_wpm=170, pitch=101)
    with pytest.raises(ValueError, match="no voice"):
        synthesize("hello", voice="xx-nonexistent", rate_wpm=170, pitch=50)


def test_missing_library_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(espeak, "_private_copy", None)
    monkeypatch.setattr(espeak, "_LIB_NAME", "libespeak-ng-does-not-exist.so.1")
    with pytest.raises(RuntimeError, match="apt-get install espeak-ng"):
        synthesize("hello", voice="en-us", rate_wpm=170, pitch=50)
