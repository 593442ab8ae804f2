"""LJSpeech layout: metadata rows, normalised text, held-out splits, malformed rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from unsup_asr.data.ljspeech import LJSpeechConfig, prepare_ljspeech
from unsup_asr.data.splits import SplitConfig, sentence_key


def _corpus(root: Path, n: int = 20) -> Path:
    (root / "wavs").mkdir(parents=True)
    rows = []
    for i in range(n):
        uid = f"LJ001-{i:04d}"
        sf.write(root / "wavs" / f"{uid}.wav", 0.1 * np.sin(np.arange(2205) / 5.0), 22050)
        norm = "" if i == 0 else f'Sentence "number" {i % 15}, twenty-one'
        rows.append(f'{uid}|Sentence "number" {i % 15}, 21|{norm}\n')
    (root / "metadata.csv").write_text("".join(rows))
    return root


def test_rows_and_text(tmp_path: Path) -> None:
    splits = prepare_ljspeech(LJSpeechConfig(root=str(_corpus(tmp_path))))
    utts = splits["all"]
    assert len(utts) == 20 and utts[0].id == "LJ001-0000"
    assert utts[0].text == 'Sentence "number" 0, 21'
    assert utts[1].text == 'Sentence "number" 1, twenty-one' and utts[1].extra["raw_text"].endswith("21")
    assert utts[1].sample_rate == 22050 and utts[1].duration_s == pytest.approx(0.1)
    raw = prepare_ljspeech(LJSpeechConfig(root=str(tmp_path), use_normalized=False))
    assert raw["all"][1].text == 'Sentence "number" 1, 21'


def test_heldout_split_is_deterministic_and_sentence_disjoint(tmp_path: Path) -> None:
    cfg = LJSpeechConfig(
        root=str(_corpus(tmp_path)), split=SplitConfig(fractions={"train": 0.8, "valid": 0.2}, by="sentence", seed=5)
    )
    a = prepare_ljspeech(cfg)
    b = prepare_ljspeech(cfg)
    assert [u.id for u in a["valid"]] == [u.id for u in b["valid"]] and a["valid"]
    train = {sentence_key(u.text or "") for u in a["train"]}
    assert not train & {sentence_key(u.text or "") for u in a["valid"]}
    assert len(a["train"]) + len(a["valid"]) == 20


def test_malformed_rows(tmp_path: Path) -> None:
    _corpus(tmp_path, 3)
    meta = tmp_path / "metadata.csv"
    good = meta.read_text()
    meta.write_text(good + "LJ001-0009 no separator\n")
    with pytest.raises(ValueError, match=r"metadata\.csv:4: expected 'id\|text'"):
        prepare_ljspeech(LJSpeechConfig(root=str(tmp_path)))
    meta.write_text(good + "LJ001-0001|again|again\n")
    with pytest.raises(ValueError, match=r"metadata\.csv:4: id 'LJ001-0001' already on line 2"):
        prepare_ljspeech(LJSpeechConfig(root=str(tmp_path)))
    meta.write_text(good + "LJ001-0009|x|y\n")
    with pytest.raises(FileNotFoundError, match=r"LJ001-0009\.wav"):
        prepare_ljspeech(LJSpeechConfig(root=str(tmp_path)))
    meta.write_bytes(good.encode() + b"LJ001-0009|caf\xe9|x\n")
    with pytest.raises(ValueError, match=r"metadata\.csv:4: not valid UTF-8"):
        prepare_ljspeech(LJSpeechConfig(root=str(tmp_path)))
    with pytest.raises(FileNotFoundError, match=r"metadata\.csv"):
        prepare_ljspeech(LJSpeechConfig(root=str(tmp_path / "none")))
