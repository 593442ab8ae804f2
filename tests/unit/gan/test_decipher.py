"""Decipherment check for every learner: with label-free selection, it learns an unknown phone
permutation from unpaired text (gold segment boundaries; features identify each phone only up to
the permutation, plus noise). A smaller version of the full benchmark (``benchmarks/decipher.py``:
40 phones): 20 phones and fixed budgets of updates, so that the result does not depend on how
loaded the machine is."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from gan.config import GanConfig
from gan.learner import LEARNERS
from gan.match.config import MatchConfig
from gan.synthetic import DecipherConfig, DecipherTask, make_decipher_task

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "decipher.py"

CONFIGS: dict[str, Any] = {
    # ~75 s on 2 idle cores (2 seeds x 2 000 updates)
    "gan": GanConfig(num_updates=2000, num_seeds=2, code_penalty_decay_updates=1500, eval_every=200, seed=0),
    # ~30 s (4 restarts x 500 updates of the 32-cluster table)
    "match": MatchConfig(silence="keep", num_clusters=32, restarts=4, steps=500, seed=0),
}


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("decipher_bench", BENCH)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot import {BENCH}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def task() -> DecipherTask:
    return make_decipher_task(
        DecipherConfig(num_phones=20, num_words=200, num_train=600, num_valid=100, num_test=100, num_text=2000)
    )


def test_every_learner_is_covered() -> None:
    assert sorted(CONFIGS) == LEARNERS.names()


@pytest.mark.slow
@pytest.mark.parametrize("learner", sorted(CONFIGS))
def test_learner_deciphers(learner: str, task: DecipherTask, tmp_path: Path) -> None:
    res = _bench().run_decipher(task, CONFIGS[learner], tmp_path)
    assert res["per_trivial_baseline"] > 0.8  # the most frequent phone everywhere
    assert res["per_selected"] <= 0.10, res  # model selected without labels
