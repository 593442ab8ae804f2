"""The real_small recipe end to end on ../shared/data, shortened (few learner updates, one
self-training round, less text).

Checks that every evaluation split gets its figures (PER, phone-LM PER and WER; boundary F1 on the
TIMIT sample, the only one with alignments), not how good they are: see recipes/real_small/RESULTS.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from unsup_asr.cli import load_config
from unsup_asr.stages import demo

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "real_small" / "conf"


@pytest.mark.integration
def test_real_small_recipe(shared_data: Path, tmp_path: Path) -> None:
    cfg = load_config(
        [
            f"out={tmp_path}",
            f"data.root={shared_data}",
            f"text.path={shared_data / 'text' / 'gutenberg_normalized.txt.gz'}",
            "text.max_sentences=3000",
            "learner.steps=100",
            "learner.restarts=2",
            "self_train.students=[frame]",
            "self_train.frame_epochs=1",
            "decode.lm_weights=[0.5]",
            "decode.word_scores=[0.0]",
        ],
        str(RECIPE), "config",
    )
    demo.run(cfg)
    score = json.loads((tmp_path / "score.json").read_text())
    splits = score["splits"]
    assert splits["timit"]["num_test_utterances"] == 128  # 16 speakers x 8, SA removed
    assert 0.0 <= splits["timit"]["boundary_f1"] <= 1.0
    for name in ("timit", "kathleen", "speechocean"):
        assert {"per", "per_phone_lm", "wer"} <= set(splits[name]), name
    assert score["per"] == splits["timit"]["per"]
    check = score["learning_check"]  # the TIMIT sample has alignments
    assert check["split"] == "timit" and 0.0 <= check["accuracy_model"] <= 1.0
