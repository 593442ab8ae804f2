from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from unsup_asr.data.audio import audio_info, load_audio
from unsup_asr.data.manifest import Utterance, read_manifest, write_manifest


def test_resample_and_downmix(tmp_path: Path) -> None:
    t = np.arange(22050) / 22050
    stereo = np.stack([np.sin(2 * np.pi * 200 * t), np.sin(2 * np.pi * 200 * t)], axis=1) * 0.5
    path = tmp_path / "a.wav"
    sf.write(path, stereo, 22050)
    assert audio_info(path) == (22050, 22050, 2)
    wav = load_audio(path)
    assert wav.dtype == np.float32 and wav.ndim == 1
    assert abs(wav.shape[0] - 16000) <= 1
    assert np.abs(wav).max() == pytest.approx(0.5, abs=0.02)


def test_missing_and_corrupt_audio(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.wav"):
        load_audio(tmp_path / "nope.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF1234WAVEjunkjunk")
    with pytest.raises(ValueError, match=r"bad.wav.*corrupt"):
        load_audio(bad)
    with pytest.raises(ValueError, match="corrupt"):
        audio_info(bad)


def test_manifest_roundtrip_relative_paths(tmp_path: Path) -> None:
    utt = Utterance(id="u1", audio="wav/u1.wav", sample_rate=16000, num_samples=320, speaker="s",
                    phones=["a", "b"], alignment=[(0.0, 0.01, "a"), (0.01, 0.02, "b")])
    path = write_manifest(tmp_path / "m.jsonl", [utt])
    back = read_manifest(path)
    assert back[0].audio == str(tmp_path / "wav/u1.wav")
    assert back[0].phones == ["a", "b"] and back[0].alignment == utt.alignment
    assert back[0].duration_s == pytest.approx(0.02)


def test_manifest_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="prepare_data"):
        read_manifest(tmp_path / "none.jsonl")
    p = tmp_path / "m.jsonl"
    p.write_text('{"id": "x"}\n')
    with pytest.raises(ValueError, match=r"m\.jsonl:1.*required"):
        read_manifest(p)
    p.write_text("{not json\n")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_manifest(p)
