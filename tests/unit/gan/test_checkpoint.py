"""Checkpointing: a killed run resumes where it stopped; finished runs are not retrained."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gan.checkpoint import LAST, load_generator
from gan.config import GanConfig, GeneratorConfig
from gan.generator import predict_log_probs
from gan.synthetic import DecipherConfig, DecipherTask, make_decipher_task
from gan.trainer import train_gan
from unsup_asr.io import clear_done, is_done


@pytest.fixture(scope="module")
def task() -> DecipherTask:
    return make_decipher_task(
        DecipherConfig(num_phones=6, num_words=20, dim=8, num_train=40, num_valid=8, num_test=4, num_text=60)
    )


def _cfg(num_updates: int) -> GanConfig:
    return GanConfig(
        generator=GeneratorConfig(num_clusters=8),
        num_updates=num_updates,
        batch_size=8,
        eval_every=10,
        checkpoint_every=10,
        log_every=5,
    )


def _score(hyps: list[list[str]]) -> float:
    """A label-free stand-in for the LM score: prefer longer outputs."""
    return -float(sum(len(h) for h in hyps))


def _train(task: DecipherTask, cfg: GanConfig, out: Path):  # type: ignore[no-untyped-def]
    return train_gan(cfg, task.train, task.text, task.vocab, out, valid=task.valid, select_score=_score)


def test_resume_matches_an_uninterrupted_run(task: DecipherTask, tmp_path: Path) -> None:
    full = _train(task, _cfg(40), tmp_path / "full")

    _train(task, _cfg(20), tmp_path / "split")  # a run "killed" after 20 updates ...
    clear_done(tmp_path / "split")  # ... that never wrote its completion marker
    (tmp_path / "split" / f".{LAST}.abc123.tmp").write_bytes(b"half-written garbage")
    resumed = _train(task, _cfg(40), tmp_path / "split")

    assert resumed.num_updates_done == full.num_updates_done == 40
    assert len(resumed.history) == len(full.history)
    assert [r["step"] for r in resumed.history] == [r["step"] for r in full.history]
    for a, b in zip(resumed.history, full.history, strict=True):
        assert a.keys() == b.keys()
        np.testing.assert_allclose([a[k] for k in sorted(a)], [b[k] for k in sorted(b)], rtol=1e-4, atol=1e-6)
    assert (resumed.best_step, resumed.best_score) == (full.best_step, full.best_score)


def test_done_run_is_returned_without_training(task: DecipherTask, tmp_path: Path) -> None:
    first = _train(task, _cfg(20), tmp_path)
    assert is_done(tmp_path) and (tmp_path / "history.jsonl").is_file() and (tmp_path / "curves.png").is_file()
    stamp = (tmp_path / LAST).stat().st_mtime_ns
    again = _train(task, _cfg(20), tmp_path)
    assert (tmp_path / LAST).stat().st_mtime_ns == stamp
    assert (again.best_step, again.num_updates_done, len(again.history)) == (
        first.best_step,
        first.num_updates_done,
        len(first.history),
    )


def test_best_checkpoint_loads(task: DecipherTask, tmp_path: Path) -> None:
    result = _train(task, _cfg(10), tmp_path)
    gen = load_generator(result.best_checkpoint)
    assert not gen.training and gen.vocab == task.vocab
    assert [lp.shape for lp in predict_log_probs(gen, task.test)] == [(len(f), len(task.vocab)) for f in task.test]
    with pytest.raises(FileNotFoundError, match="train the GAN first"):
        load_generator(tmp_path / "missing.pt")


def test_max_seconds_stops_training(task: DecipherTask, tmp_path: Path) -> None:
    cfg = _cfg(10**6)
    cfg.max_seconds = 0.5
    result = _train(task, cfg, tmp_path)
    assert 0 < result.num_updates_done < 10**6 and result.seconds >= 0.5
    assert torch.load(tmp_path / LAST, weights_only=True)["state"]["step"] == result.num_updates_done


def test_bad_inputs_are_rejected(task: DecipherTask, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="<SIL>"):
        train_gan(
            _cfg(2), task.train, task.text, [*task.vocab[:-1], "sil"], tmp_path, valid=task.valid, select_score=_score
        )
    with pytest.raises(ValueError, match="different dimensions"):
        train_gan(
            _cfg(2),
            task.train,
            task.text,
            task.vocab,
            tmp_path,
            valid=[np.zeros((3, 2), np.float32)],
            select_score=_score,
        )
