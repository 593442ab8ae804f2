"""Small decipherment check: the GAN, with label-free checkpoint selection, learns an unknown
phone permutation from unpaired text (gold segment boundaries). The full version with the 5-minute
budget and the PER <= 10 % target is benchmarks/decipher.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from gan.config import GanConfig
from gan.synthetic import DecipherConfig, make_decipher_task

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "decipher.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("decipher_bench", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.integration  # minutes on 2 cores and not yet passing reliably: see recipes/demo/RESULTS.md
def test_gan_deciphers_small_task(tmp_path: Path) -> None:
    task = make_decipher_task(DecipherConfig(num_phones=12, num_words=120, dim=32, noise_std=1.0,
                                             num_train=600, num_valid=100, num_test=100, num_text=2000, seed=0))
    cfg = GanConfig(num_updates=MAX_UPDATES, eval_every=100, checkpoint_every=500, seed=0)
    res = _bench().run_decipher(task, cfg, tmp_path)
    # Real learning: far below the most-frequent-phone baseline (~90 % PER).
    assert res["per_trivial_baseline"] > 0.8
    assert res["per_selected"] <= PER_BOUND, res


MAX_UPDATES = 1500
PER_BOUND = 0.35
