"""The segment stage's cache identity covers the contents of files a segmenter config names."""

from __future__ import annotations

from pathlib import Path

from segmentation.rl.segmenter import RlSegmenterConfig
from segmentation.uniform import UniformConfig
from unsup_asr.stages.segment import _referenced_files


def test_a_new_policy_at_the_same_path_changes_the_identity(tmp_path: Path) -> None:
    policy = tmp_path / "policy.pt"
    policy.write_bytes(b"first policy")
    cfg = RlSegmenterConfig(policy=str(policy))
    first = _referenced_files(cfg)
    assert list(first) == ["policy"]
    policy.write_bytes(b"second policy")
    assert _referenced_files(cfg) != first
    assert _referenced_files(UniformConfig()) == {}  # no file fields: identity unchanged for such segmenters
