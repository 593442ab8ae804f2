"""The README's plug-in example segmenter, run exactly as written there, and the uniform baseline."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import torch

from segmentation.base import SEGMENTERS
from segmentation.uniform import UniformConfig, UniformSegmenter
from unsup_asr.cli import load_config
from unsup_asr.stages.segment import build_segmenter

README = Path(__file__).resolve().parents[3] / "README.md"


def _example_source() -> str:
    blocks = re.findall(r"```python\n(# segmentation/feature_jump\.py\n.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1, "README must hold exactly one feature_jump example block"
    return blocks[0]


def test_readme_plugin_example_registers_and_segments(tmp_path: Path) -> None:
    path = tmp_path / "feature_jump.py"
    path.write_text(_example_source())
    spec = importlib.util.spec_from_file_location("feature_jump_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    assert "feature_jump" in SEGMENTERS.names()
    cfg = load_config([f"out={tmp_path}", "segmenter=feature_jump", "segmenter.quantile=0.8"], None, "run")
    assert cfg.segmenter.quantile == 0.8
    seg = build_segmenter(cfg.segmenter)
    x = torch.zeros(2, 20, 3)
    x[0, 10:] = 5.0  # one big jump at frame 10
    out = seg(x, torch.tensor([20, 12]))
    assert bool(out.boundaries[0, 0]) and bool(out.boundaries[0, 10])
    assert out.seg_embeddings.shape[2] == 3 and int(out.seg_lens[1]) >= 1


def test_uniform_segmenter() -> None:
    seg = UniformSegmenter(UniformConfig(frames=4))
    feats = torch.arange(2 * 10 * 2, dtype=torch.float32).reshape(2, 10, 2)
    out = seg(feats, torch.tensor([10, 7]))
    assert out.boundaries[0].nonzero().flatten().tolist() == [0, 4, 8]
    assert out.seg_lens.tolist() == [3, 2]
    np.testing.assert_allclose(out.seg_embeddings[0, 0].numpy(), feats[0, :4].mean(0).numpy())
    assert seg.out_dim == 2
