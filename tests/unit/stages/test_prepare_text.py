from __future__ import annotations

from pathlib import Path

import pytest

from unsup_asr.cli import load_config
from unsup_asr.paths import RunPaths
from unsup_asr.stages import prepare_text


def test_prepare_text_builds_inventory_and_lm(tmp_path: Path) -> None:
    cfg = load_config([f"out={tmp_path}", "text.sil_prob=0.5", "text.lm_order=3"])
    paths = RunPaths(tmp_path)
    paths.corpus.mkdir(parents=True)
    sentences = ["the cat sat on the mat", "a dog ran in the park", "she sells sea shells"] * 20
    paths.unpaired_text.write_text("\n".join(sentences) + "\n")
    out = prepare_text.run(cfg)
    vocab = (out / "vocab.txt").read_text().split()
    assert vocab[-1] == "<SIL>" and len(vocab) > 10
    lines = (out / "phones.txt").read_text().splitlines()
    assert len(lines) == 60 and all(line.startswith("<SIL>") and line.endswith("<SIL>") for line in lines)
    assert "<SIL>" not in (out / "phones.nosil.txt").read_text()
    assert prepare_text.lm_path(out, 3).is_file()
    mtime = (out / "phones.txt").stat().st_mtime_ns
    prepare_text.run(cfg)  # cached
    assert (out / "phones.txt").stat().st_mtime_ns == mtime


def test_prepare_text_errors(tmp_path: Path) -> None:
    cfg = load_config([f"out={tmp_path}"])
    with pytest.raises(FileNotFoundError, match="prepare_data"):
        prepare_text.run(cfg)
    paths = RunPaths(tmp_path)
    paths.corpus.mkdir(parents=True)
    paths.unpaired_text.write_text("\n \n")
    with pytest.raises(ValueError, match=r"unpaired\.txt is empty"):
        prepare_text.run(cfg)
