"""Decipherment check: the GAN, with label-free checkpoint selection, learns an unknown phone
permutation from unpaired text (gold segment boundaries; features identify each phone only up to
the permutation, plus noise). A smaller version of the full benchmark (``benchmarks/decipher.py``:
40 phones, 5-minute budget): 20 phones and a fixed budget of updates instead of wall clock, so
that the result does not depend on how loaded the machine is."""

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
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot import {BENCH}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow  # ~75 s on 2 idle cores (2 seeds x 2 000 updates); longer on a loaded machine
def test_gan_deciphers(tmp_path: Path) -> None:
    task = make_decipher_task(
        DecipherConfig(num_phones=20, num_words=200, num_train=600, num_valid=100, num_test=100, num_text=2000)
    )
    cfg = GanConfig(num_updates=2000, num_seeds=2, code_penalty_decay_updates=1500, eval_every=200, seed=0)
    res = _bench().run_decipher(task, cfg, tmp_path)
    assert res["per_trivial_baseline"] > 0.8  # the most frequent phone everywhere
    assert res["per_selected"] <= 0.10, res  # seed and checkpoint selected without labels
