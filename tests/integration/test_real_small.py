"""The real_small recipe end to end on ../shared/data, shortened (few GAN updates, less text).

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
            "gan.num_updates=200",
            "gan.num_seeds=1",
            "gan.max_seconds=0",
            "gan.eval_every=100",
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
