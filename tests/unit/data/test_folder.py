"""Generic audio folders: recursive glob, TSV manifests, id collisions, stale rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from unsup_asr.data.folder import FolderConfig, prepare_folder, read_utf8_lines
from unsup_asr.data.splits import SplitConfig


def _audio(path: Path, n: int = 1600, sr: int = 16000, channels: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    wav = 0.1 * np.sin(np.arange(n) / 4.0)
    sf.write(path, np.stack([wav] * channels, axis=1) if channels > 1 else wav, sr)
    return path


def test_glob(tmp_path: Path) -> None:
    _audio(tmp_path / "spk1" / "a.wav")
    _audio(tmp_path / "spk1" / "deep" / "b.FLAC", 800, channels=2)
    _audio(tmp_path / "spk2" / "c.flac", sr=8000)
    _audio(tmp_path / ".hidden" / "d.wav")
    (tmp_path / "notes.txt").write_text("x")
    utts = prepare_folder(FolderConfig(root=str(tmp_path)))["all"]
    assert [(u.id, u.speaker, u.sample_rate, u.channels, u.text) for u in utts] == [
        ("a", "spk1", 16000, 1, None),
        ("b", "deep", 16000, 2, None),
        ("c", "spk2", 8000, 1, None),
    ]
    by_path = prepare_folder(FolderConfig(root=str(tmp_path), id_from="path", speaker_from="none"))["all"]
    assert [u.id for u in by_path] == ["spk1__a", "spk1__deep__b", "spk2__c"]
    assert {u.speaker for u in by_path} == {"unknown"}
    _audio(tmp_path / "spk2" / "a.wav")
    with pytest.raises(ValueError, match=r"both give utterance id 'a'.*id_from='path'"):
        prepare_folder(FolderConfig(root=str(tmp_path)))
    split = prepare_folder(
        FolderConfig(
            root=str(tmp_path), id_from="path", split=SplitConfig(fractions={"train": 0.5, "test": 0.5}, by="utterance")
        )
    )
    assert sorted(len(v) for v in split.values()) == [2, 2]


def test_tsv(tmp_path: Path) -> None:
    _audio(tmp_path / "audio" / "x1.flac", 16000)
    _audio(tmp_path / "audio" / "x2.flac", 8000)
    header = "path\tduration_s\tsample_rate\tspeaker\ttranscript\tnote\n"
    tsv = tmp_path / "manifest.tsv"
    tsv.write_text(
        header + "audio/x1.flac\t1.0\t16000\tkate\tHello, world.\tok\naudio/x2.flac\t0.5\t16000\tkate\tSecond one.\t\n"
    )
    utts = prepare_folder(FolderConfig(root=str(tmp_path), manifest="manifest.tsv"))["all"]
    assert [(u.id, u.speaker, u.text, u.extra) for u in utts] == [
        ("x1", "kate", "Hello, world.", {"note": "ok"}),
        ("x2", "kate", "Second one.", {"note": ""}),
    ]
    bad_rows = {
        "audio/x1.flac\t2.0\t16000\tk\tt\tn\n": r"manifest\.tsv:2: duration_s 2\.0 but .* lasts 1\.000 s",
        "audio/x1.flac\t1.0\t22050\tk\tt\tn\n": r"manifest\.tsv:2: sample_rate 22050",
        "audio/x1.flac\t1.0\t16000\tk\tt\n": r"manifest\.tsv:2: 5 tab-separated fields, the header has 6",
        "audio/x9.flac\t1.0\t16000\tk\tt\tn\n": r"manifest\.tsv:2: audio file .*x9\.flac does not exist",
        "audio/x1.flac\tlong\t16000\tk\tt\tn\n": r"manifest\.tsv:2: sample_rate/duration_s must be numbers",
    }
    for row, message in bad_rows.items():
        tsv.write_text(header + row)
        with pytest.raises((ValueError, FileNotFoundError), match=message):
            prepare_folder(FolderConfig(root=str(tmp_path), manifest="manifest.tsv"))
    tsv.write_text("file\ttext\n")
    with pytest.raises(ValueError, match=r"manifest\.tsv:1: .*including 'path'"):
        prepare_folder(FolderConfig(root=str(tmp_path), manifest="manifest.tsv"))
    tsv.write_bytes(header.encode() + b"audio/x1.flac\t1.0\t16000\tk\tna\xefve\tn\n")
    with pytest.raises(ValueError, match=r"manifest\.tsv:2: not valid UTF-8"):
        prepare_folder(FolderConfig(root=str(tmp_path), manifest="manifest.tsv"))


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        prepare_folder(FolderConfig(root=str(tmp_path / "none")))
    with pytest.raises(ValueError, match=r"no .*files under"):
        prepare_folder(FolderConfig(root=str(tmp_path)))
    for field, value in [("extensions", [".wav"]), ("id_from", "name"), ("speaker_from", "x"), ("name", "")]:
        cfg = FolderConfig(root="x")
        setattr(cfg, field, value)
        with pytest.raises(ValueError, match=field):
            cfg.validate()


def test_read_utf8_lines_bom_and_crlf(tmp_path: Path) -> None:
    p = tmp_path / "t.txt"
    p.write_bytes(b"\xef\xbb\xbfone\r\ntwo\n")
    assert read_utf8_lines(p) == ["one", "two"]


@pytest.mark.integration
def test_kathleen(shared_data: Path) -> None:
    root = shared_data / "kathleen"
    utts = prepare_folder(FolderConfig(root=str(root), manifest="manifest.tsv"))["all"]
    assert len(utts) == 800 and {u.speaker for u in utts} == {"kathleen"}
    assert all(u.text and u.sample_rate == 16000 and u.channels == 1 for u in utts)
    assert 40 * 60 < sum(u.duration_s for u in utts) < 41 * 60
    globbed = prepare_folder(FolderConfig(root=str(root / "audio")))["all"]
    assert [u.id for u in globbed] == [u.id for u in utts]
