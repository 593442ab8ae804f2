"""LibriSpeech subsets: transcripts, several subsets, missing transcripts, unlabelled audio."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from unsup_asr.data.librispeech import LibriSpeechConfig, prepare_librispeech


def _chapter(subset: Path, spk: str, chapter: str, n: int, *, trans: bool = True) -> None:
    d = subset / spk / chapter
    d.mkdir(parents=True)
    lines = []
    for i in range(n):
        uid = f"{spk}-{chapter}-{i:04d}"
        sf.write(d / f"{uid}.flac", 0.1 * np.sin(np.arange(800 + 160 * i) / 4.0), 16000)
        lines.append(f"{uid} WORDS OF UTTERANCE {i}\n")
    if trans:
        (d / f"{spk}-{chapter}.trans.txt").write_text("".join(lines))


def test_two_subsets(tmp_path: Path) -> None:
    _chapter(tmp_path / "dev-clean", "1272", "128104", 3)
    _chapter(tmp_path / "dev-clean", "84", "121123", 2)
    _chapter(tmp_path / "test-clean", "61", "70968", 1)
    (tmp_path / "README.TXT").write_text("not a subset")
    splits = prepare_librispeech(LibriSpeechConfig(root=str(tmp_path)))
    assert {k: len(v) for k, v in splits.items()} == {"dev-clean": 5, "test-clean": 1}
    u = splits["dev-clean"][0]
    assert u.id == "1272-128104-0000" and u.speaker == "1272" and u.extra == {"chapter": "128104"}
    assert u.text == "WORDS OF UTTERANCE 0" and u.num_samples == 800 and u.sample_rate == 16000
    assert [x.id for x in splits["dev-clean"]] == sorted(x.id for x in splits["dev-clean"])
    only = prepare_librispeech(LibriSpeechConfig(root=str(tmp_path), subsets=["test-clean"]))
    assert list(only) == ["test-clean"]
    direct = prepare_librispeech(LibriSpeechConfig(root=str(tmp_path / "test-clean")))
    assert list(direct) == ["test-clean"]


def test_missing_transcript(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _chapter(tmp_path / "train-other", "19", "198", 2, trans=False)
    _chapter(tmp_path / "train-other", "26", "495", 1)
    with pytest.raises(ValueError, match=r"chapter .*19/198 has 2 audio files but no transcript 19-198\.trans\.txt"):
        prepare_librispeech(LibriSpeechConfig(root=str(tmp_path)))
    with caplog.at_level(logging.WARNING, logger="unsup_asr.data.librispeech"):
        splits = prepare_librispeech(LibriSpeechConfig(root=str(tmp_path), require_text=False))
    assert [u.text for u in splits["train-other"]] == [None, None, "WORDS OF UTTERANCE 0"]
    assert "1 chapters" in caplog.text


def test_bad_transcripts(tmp_path: Path) -> None:
    _chapter(tmp_path / "dev", "1", "2", 2)
    trans = tmp_path / "dev" / "1" / "2" / "1-2.trans.txt"
    trans.write_text("1-2-0000 A\n")
    with pytest.raises(ValueError, match=r"1-2-0001\.flac has no line in"):
        prepare_librispeech(LibriSpeechConfig(root=str(tmp_path)))
    trans.write_text("1-2-0000 A\n1-2-0001 B\n1-2-0007 C\n")
    with pytest.raises(ValueError, match=r"transcribes 1-2-0007 but .* has no audio"):
        prepare_librispeech(LibriSpeechConfig(root=str(tmp_path)))
    trans.write_bytes(b"1-2-0000 A\n1-2-0001 \xff\n")
    with pytest.raises(ValueError, match=r"1-2\.trans\.txt:2: not valid UTF-8"):
        prepare_librispeech(LibriSpeechConfig(root=str(tmp_path)))
    trans.write_text("1-2-0000 A\nbad line\n")
    with pytest.raises(ValueError, match=r"trans\.txt:2: expected"):
        prepare_librispeech(LibriSpeechConfig(root=str(tmp_path)))


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        prepare_librispeech(LibriSpeechConfig(root=str(tmp_path / "nope")))
    with pytest.raises(ValueError, match="neither"):
        prepare_librispeech(LibriSpeechConfig(root=str(tmp_path)))
    with pytest.raises(FileNotFoundError, match="dev-other"):
        prepare_librispeech(LibriSpeechConfig(root=str(tmp_path), subsets=["dev-other"]))
    with pytest.raises(ValueError, match="subsets"):
        LibriSpeechConfig(root="x", subsets=["a", "a"]).validate()
    d = tmp_path / "dev" / "1" / "2"
    d.mkdir(parents=True)
    sf.write(d / "9-9-0000.flac", np.zeros(100), 16000)
    (d / "1-2.trans.txt").write_text("")
    with pytest.raises(ValueError, match="not named 1-2-<n>"):
        prepare_librispeech(LibriSpeechConfig(root=str(tmp_path)))
