"""Best-of-seeds training keeps the run with the lowest label-free selection score."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from gan.config import GanConfig, GeneratorConfig
from gan.restarts import train_gan_seeds
from gan.synthetic import DecipherConfig, make_decipher_task


def test_keeps_the_seed_with_the_lowest_score(tmp_path: Path) -> None:
    task = make_decipher_task(
        DecipherConfig(num_phones=6, num_words=20, dim=8, num_train=40, num_valid=8, num_test=4, num_text=60)
    )
    cfg = GanConfig(
        generator=GeneratorConfig(num_clusters=8), num_updates=20, batch_size=8, eval_every=10, num_seeds=3, seed=5
    )
    calls: list[int] = []

    def score(hyps: list[list[str]]) -> float:  # label-free stand-in; differs between seeds by design
        calls.append(1)
        return float(len(calls) % 7)

    result = train_gan_seeds(cfg, task.train, task.text, task.vocab, tmp_path, valid=task.valid, select_score=score)
    summary = json.loads((tmp_path / "seeds.json").read_text())
    scores = {int(s): r["best_score"] for s, r in summary["runs"].items()}
    assert sorted(scores) == [5, 6, 7]
    assert summary["selected_seed"] == min(scores, key=lambda s: scores[s])
    assert result.best_score == min(scores.values())
    assert result.num_updates_done == 60
    winner = torch.load(tmp_path / f"seed{summary['selected_seed']}" / "best.pt", weights_only=True)
    copied = torch.load(result.best_checkpoint, weights_only=True)
    assert result.best_checkpoint == tmp_path / "best.pt"
    assert copied["score"] == winner["score"]
    # A second call returns the finished runs without training again.
    again = train_gan_seeds(cfg, task.train, task.text, task.vocab, tmp_path, valid=task.valid, select_score=score)
    assert again.best_score == result.best_score
