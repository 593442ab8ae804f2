"""Kaldi data folders: wav.scp, an audio tree (speechocean762 layout), unsupported entries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from unsup_asr.data.kaldi import KaldiDirConfig, prepare_kaldi_dir, read_kaldi_map
from unsup_asr.data.splits import SplitConfig


def _audio(path: Path, n: int = 1600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.1 * np.sin(np.arange(n) / 4.0), 16000)
    return path


def _speechocean_like(root: Path) -> Path:
    data = root / "train"
    data.mkdir(parents=True)
    text, spk = [], []
    for s in ("0001", "0002", "0003"):
        for i in range(2):
            uid = f"{s}0{i}"
            _audio(root / "WAVE" / f"SPEAKER{s}" / f"{uid}.flac")
            text.append(f"{uid}\tWE CALL IT {i}\n")
            spk.append(f"{uid} {s}\n")
    (data / "text").write_text("".join(text))
    (data / "utt2spk").write_text("".join(spk))
    return data


def test_audio_tree(tmp_path: Path) -> None:
    data = _speechocean_like(tmp_path)
    splits = prepare_kaldi_dir(KaldiDirConfig(data_dir=str(data)))
    utts = splits["train"]
    assert [u.id for u in utts] == ["000100", "000101", "000200", "000201", "000300", "000301"]
    assert utts[1].text == "WE CALL IT 1" and utts[1].speaker == "0001"
    assert utts[1].audio.endswith("WAVE/SPEAKER0001/000101.flac")
    split = prepare_kaldi_dir(KaldiDirConfig(data_dir=str(data), split=SplitConfig(fractions={"a": 2 / 3, "b": 1 / 3})))
    assert sorted(len({u.speaker for u in v}) for v in split.values()) == [1, 2]
    (data / "text").write_text("000100 ONLY ONE\n")
    with pytest.raises(FileNotFoundError, match="no audio file for"):
        prepare_kaldi_dir(KaldiDirConfig(data_dir=str(data), wave_dir=str(tmp_path / "train")))


def test_wav_scp_relative_and_text_checks(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe"
    data = recipe / "data" / "test"
    data.mkdir(parents=True)
    _audio(recipe / "audio" / "a.wav")
    _audio(tmp_path / "b.wav", 800)
    (data / "wav.scp").write_text(f"u1 audio/a.wav\nu2 {tmp_path / 'b.wav'}\n")
    (data / "text").write_text("u1 HELLO\nu2\n")
    (data / "utt2spk").write_text("u1 s1\nu2 s2\n")
    utts = prepare_kaldi_dir(KaldiDirConfig(data_dir=str(data)))["test"]
    assert [(u.id, u.text, u.speaker, u.num_samples) for u in utts] == [
        ("u1", "HELLO", "s1", 1600),
        ("u2", "", "s2", 800),
    ]
    (data / "text").write_text("u1 HELLO\n")
    with pytest.raises(ValueError, match=r"'u2' .* has no line in .*text"):
        prepare_kaldi_dir(KaldiDirConfig(data_dir=str(data)))
    assert [u.text for u in prepare_kaldi_dir(KaldiDirConfig(data_dir=str(data), require_text=False))["test"]] == [
        "HELLO",
        None,
    ]
    (data / "wav.scp").write_text("u1 audio/a.wav\nu2 audio/missing.wav\n")
    with pytest.raises(FileNotFoundError, match=r"missing\.wav"):
        prepare_kaldi_dir(KaldiDirConfig(data_dir=str(data), require_text=False))


@pytest.mark.parametrize("entry", ["sph2pipe -f wav /x/a.sph |", "/x/feats.ark:1234", "-"])
def test_unsupported_wav_scp(tmp_path: Path, entry: str) -> None:
    (tmp_path / "wav.scp").write_text(f"u0 /x/a.wav\nu1 {entry}\n")
    with pytest.raises(ValueError, match=r"wav\.scp:2: .*unsupported"):
        prepare_kaldi_dir(KaldiDirConfig(data_dir=str(tmp_path)))


def test_table_errors(tmp_path: Path) -> None:
    t = tmp_path / "utt2spk"
    t.write_text("a s1\na s2\n")
    with pytest.raises(ValueError, match=r"utt2spk:2: utterance 'a' appears twice"):
        read_kaldi_map(t)
    t.write_text("a\n")
    with pytest.raises(ValueError, match=r"utt2spk:1: expected"):
        read_kaldi_map(t)
    t.write_bytes(b"a s1\nb \xe9\n")
    with pytest.raises(ValueError, match=r"utt2spk:2: not valid UTF-8"):
        read_kaldi_map(t)
    (tmp_path / "segments").write_text("x rec 0 1\n")
    with pytest.raises(ValueError, match="segments"):
        prepare_kaldi_dir(KaldiDirConfig(data_dir=str(tmp_path)))


@pytest.mark.integration
def test_speechocean762(shared_data: Path) -> None:
    utts = prepare_kaldi_dir(KaldiDirConfig(data_dir=str(shared_data / "speechocean762" / "train")))["train"]
    assert len(utts) == 750 and len({u.speaker for u in utts}) == 125
    assert all(u.text and u.sample_rate == 16000 and u.text == u.text.upper() for u in utts)
    assert 50 * 60 < sum(u.duration_s for u in utts) < 53 * 60
    assert utts[0].id == "000010011" and utts[0].text == "WE CALL IT BEAR"
