"""Self-training students and pseudo-label conversions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gan.phone_model import load_phone_model, predict_log_probs, save_phone_model
from gan.selftrain.config import SelfTrainConfig
from gan.selftrain.labels import change_rate, frames_to_segments, segments_to_frames
from gan.selftrain.students import FrameStudent, SegmentStudent, train_student

VOCAB = ["a", "b", "c", "<SIL>"]


def test_label_conversions_round_trip() -> None:
    bounds = [np.array([1, 0, 0, 1, 1, 0], dtype=bool)]
    frames = segments_to_frames([np.array([2, 0, 1])], bounds)
    assert frames[0].tolist() == [2, 2, 2, 0, 1, 1]
    assert frames_to_segments(frames, bounds)[0].tolist() == [2, 0, 1]
    assert frames_to_segments([np.array([1, 1, 2, 3, 0, 0])], bounds)[0].tolist() == [1, 3, 0]
    assert change_rate([np.array([1, 2, 3])], [np.array([1, 0, 3])]) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="segment labels"):
        segments_to_frames([np.array([1, 2])], bounds)


@pytest.mark.parametrize("kind", ["segment", "frame"])
def test_students_learn_a_separable_task_and_round_trip(kind: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    means = rng.normal(size=(len(VOCAB), 6)) * 3
    labels = [rng.integers(0, len(VOCAB), size=int(rng.integers(5, 12))) for _ in range(60)]
    feats = [(means[y] + rng.normal(size=(len(y), 6)) * 0.3).astype(np.float32) for y in labels]
    torch.manual_seed(0)
    model = (SegmentStudent(6, VOCAB, hidden=32, layers=1, dropout=0.0) if kind == "segment"
             else FrameStudent(6, VOCAB, hidden=32, layers=1, dropout=0.0, splice=1))
    history = train_student(model, feats, labels, epochs=30, batch_size=8, lr=3e-3, weight_decay=0.0, seed=0)
    assert history[-1]["charts/train_acc"] > 0.9, history[-1]
    save_phone_model(tmp_path / "m.pt", model, round=1)
    loaded = load_phone_model(tmp_path / "m.pt")
    assert loaded.unit == kind and loaded.vocab == VOCAB
    for a, b in zip(predict_log_probs(model, feats[:4]), predict_log_probs(loaded, feats[:4]), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match="one label per position"):
        train_student(model, feats[:2], [labels[0][:-1], labels[1]], epochs=1, batch_size=2, lr=1e-3,
                      weight_decay=0.0, seed=0)


def test_same_seed_same_student() -> None:
    rng = np.random.default_rng(3)
    labels = [rng.integers(0, len(VOCAB), size=6) for _ in range(10)]
    feats = [rng.normal(size=(6, 5)).astype(np.float32) for _ in range(10)]
    weights = []
    for _ in range(2):
        torch.manual_seed(1)
        model = SegmentStudent(5, VOCAB, hidden=8, layers=1, dropout=0.2)
        train_student(model, feats, labels, epochs=2, batch_size=4, lr=1e-3, weight_decay=0.0, seed=7)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    torch.testing.assert_close(weights[0], weights[1], rtol=0, atol=0)


def test_frame_student_is_independent_of_batching() -> None:
    torch.manual_seed(0)
    model = FrameStudent(4, VOCAB, hidden=8, layers=1, dropout=0.0, splice=2).eval()
    rng = np.random.default_rng(1)
    feats = [rng.normal(size=(n, 4)).astype(np.float32) for n in (7, 3, 12)]
    together = predict_log_probs(model, feats, batch_size=3)
    alone = [predict_log_probs(model, [f])[0] for f in feats]
    for a, b in zip(together, alone, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_config_rejects_unknown_students() -> None:
    with pytest.raises(ValueError, match="students"):
        SelfTrainConfig(students=["segment", "hmm"]).validate()
    with pytest.raises(ValueError, match="select"):
        SelfTrainConfig(select="oracle").validate()
