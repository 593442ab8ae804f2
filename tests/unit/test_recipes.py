"""Every recipe's config composes into a valid RunConfig, and its run.sh names the recipe."""

from __future__ import annotations

from pathlib import Path

import pytest

from unsup_asr.cli import load_config

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


@pytest.mark.parametrize("name", sorted(p.name for p in RECIPES.iterdir() if (p / "conf" / "config.yaml").is_file()))
def test_recipe_config_is_valid(name: str, tmp_path: Path) -> None:
    cfg = load_config([f"out={tmp_path}"], str(RECIPES / name / "conf"), "config")
    cfg.validate()
    for source in cfg.data.sources:
        assert source.corpus_config() is not None
    assert (RECIPES / name / "README.md").is_file() and (RECIPES / name / "RESULTS.md").is_file()
    if name != "demo":
        assert f" {name} " in (RECIPES / name / "run.sh").read_text()


def test_real_small_maps_every_evaluation_split() -> None:
    cfg = load_config([], str(RECIPES / "real_small" / "conf"), "config")
    targets = {t for s in cfg.data.sources for t in s.splits.values()}
    assert set(cfg.splits.all()) <= targets
