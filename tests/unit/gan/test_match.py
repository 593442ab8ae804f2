"""The matching learner: exact statistics, named terms, bad input, resume and reproducibility."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gan.learner import LearnerInputs, build_learner
from gan.match.config import MatchConfig
from gan.match.stats import BatchStats, ClusterCounts, ClusterStats, TextStats, process_text
from gan.match.terms import MATCH_TERMS, cross_entropy, register_term
from gan.phone_model import load_phone_model, predict_log_probs
from gan.synthetic import DecipherConfig, DecipherTask, make_decipher_task
from unsup_asr.decode.viterbi import decode_one

V = 5  # phones 0..3 and <SIL> = 4


def _seqs(rng: np.random.Generator, n: int, k: int) -> list[np.ndarray]:
    return [rng.integers(0, k, size=int(rng.integers(3, 9))) for _ in range(n)]


def test_process_text_silence_rules() -> None:
    text = [np.array([4, 0, 0, 4, 1, 4])]
    assert process_text(text, 4, silence="remove", merge_repeats=False)[0].tolist() == [0, 0, 1]
    assert process_text(text, 4, silence="remove", merge_repeats=True)[0].tolist() == [0, 1]
    assert process_text(text, 4, silence="edges", merge_repeats=True)[0].tolist() == [4, 0, 1, 4]
    assert process_text(text, 4, silence="keep", merge_repeats=False)[0].tolist() == [4, 0, 0, 4, 1, 4]
    with pytest.raises(ValueError, match="only <SIL>"):
        process_text([np.array([4, 4])], 4, silence="remove", merge_repeats=False)


def test_cluster_statistics_are_exact_for_a_hard_table() -> None:
    """A one-hot table maps every cluster sequence to a phone sequence: the contracted expected
    statistics must equal that phone text's counts exactly."""
    rng = np.random.default_rng(0)
    k = 7
    ids = _seqs(rng, 40, k)
    mapping = rng.integers(0, V, size=k)
    table = torch.nn.functional.one_hot(torch.from_numpy(mapping), V).double()[None]
    counts = ClusterCounts(ids, k, skip_distances=[2, 3], positions=2)
    expected = ClusterStats(counts, table, merge_repeats=False)
    text = TextStats([mapping[s] for s in ids], V, positions=2)
    for n in (1, 2, 3):
        torch.testing.assert_close(expected.ngram(n)[0], text.ngram(n))
    for d in (2, 3):
        torch.testing.assert_close(expected.skipgram(d)[0], text.skipgram(d))
    torch.testing.assert_close(expected.positional()[0], text.positional())


def test_batch_statistics_are_exact_for_one_hot_outputs() -> None:
    rng = np.random.default_rng(1)
    seqs = _seqs(rng, 6, V)
    s = max(len(x) for x in seqs)
    probs = torch.zeros(1, len(seqs), s, V, dtype=torch.float64)
    mask = torch.ones(len(seqs), s, dtype=torch.bool)
    for b, x in enumerate(seqs):
        probs[0, b, torch.arange(len(x)), torch.from_numpy(x)] = 1.0
        mask[b, : len(x)] = False
    batch = BatchStats(probs, mask, merge_repeats=False, positions=2)
    text = TextStats(seqs, V, positions=2)
    for n in (1, 2, 3):
        torch.testing.assert_close(batch.ngram(n)[0], text.ngram(n))
    torch.testing.assert_close(batch.skipgram(2)[0], text.skipgram(2))
    torch.testing.assert_close(batch.positional()[0], text.positional())


def test_merged_bigrams_are_those_of_sequences_with_repeats_merged() -> None:
    rng = np.random.default_rng(2)
    k = 6
    ids = _seqs(rng, 30, k)
    mapping = np.array([0, 0, 1, 2, 3, 3])  # two clusters per phone: splits become repeats
    table = torch.nn.functional.one_hot(torch.from_numpy(mapping), V).double()[None]
    expected = ClusterStats(ClusterCounts(ids, k, skip_distances=[2], positions=1), table, merge_repeats=True)
    merged = process_text([mapping[s] for s in ids], 4, silence="keep", merge_repeats=True)
    torch.testing.assert_close(expected.ngram(2)[0], TextStats(merged, V, positions=1).ngram(2))


def test_a_plugged_in_term_is_selectable() -> None:
    @register_term("test_skip5")
    def skip5(out, text, cfg):  # type: ignore[no-untyped-def]
        return cross_entropy(text.skipgram(5), out.skipgram(5), dims=2)

    try:
        MatchConfig(terms={"trigram": 1.0, "test_skip5": 0.5}).validate()
        with pytest.raises(ValueError, match="unknown terms"):
            MatchConfig(terms={"fivegram": 1.0}).validate()
    finally:
        del MATCH_TERMS["test_skip5"]


@pytest.fixture(scope="module")
def task() -> DecipherTask:
    return make_decipher_task(DecipherConfig(num_phones=8, num_words=40, dim=16, num_train=150, num_valid=20,
                                             num_test=20, num_text=400, seed=3))


def _inputs(task: DecipherTask, **changes: object) -> LearnerInputs:
    fields = {"train": task.train, "valid": task.valid, "text": task.text, "vocab": task.vocab,
              "select_score": lambda hyps: float(-sum(len(h) for h in hyps))} | changes
    return LearnerInputs(**fields)  # type: ignore[arg-type]


def _cfg(**changes: object) -> MatchConfig:
    return MatchConfig(**({"silence": "keep", "num_clusters": 12, "restarts": 3, "steps": 60} | changes))  # type: ignore[arg-type]


def _hyps(path: Path, feats: list[np.ndarray]) -> list[list[str]]:
    model = load_phone_model(path)
    return [decode_one(lp, model.vocab) for lp in predict_log_probs(model, feats)]


def test_same_seed_same_hypotheses_and_resume(task: DecipherTask, tmp_path: Path) -> None:
    a = build_learner(_cfg()).fit(_inputs(task), tmp_path / "a")
    b = build_learner(_cfg()).fit(_inputs(task), tmp_path / "b")
    assert _hyps(a.checkpoint, task.test) == _hyps(b.checkpoint, task.test)
    assert [c.scores for c in a.candidates] == [c.scores for c in b.candidates]
    assert len(a.candidates) == 3 and a.info["selected"] in {c.tag for c in a.candidates}
    again = build_learner(_cfg()).fit(_inputs(task), tmp_path / "a")  # finished folder: stored result
    assert again.score == a.score and again.info == a.info


def test_resume_after_a_kill_matches_an_uninterrupted_run(task: DecipherTask, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import gan.match.learner as ml

    monkeypatch.setattr(ml, "CHECKPOINT_EVERY", 20)
    full = build_learner(_cfg()).fit(_inputs(task), tmp_path / "full")

    calls = {"n": 0}
    real_loss = ml.total_loss

    def dies_at_update_35(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 35:
            raise KeyboardInterrupt
        return real_loss(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ml, "total_loss", dies_at_update_35)
    with pytest.raises(KeyboardInterrupt):
        build_learner(_cfg()).fit(_inputs(task), tmp_path / "split")
    monkeypatch.setattr(ml, "total_loss", real_loss)
    assert (tmp_path / "split" / "last.pt").is_file() and not (tmp_path / "split" / ".done").is_file()
    resumed = build_learner(_cfg()).fit(_inputs(task), tmp_path / "split")  # from update 20
    assert [c.scores for c in resumed.candidates] == [c.scores for c in full.candidates]


def test_features_input_learns_a_linear_map(task: DecipherTask, tmp_path: Path) -> None:
    res = build_learner(_cfg(input="features", restarts=2, steps=30, batch_size=16)).fit(_inputs(task), tmp_path)
    model = load_phone_model(res.checkpoint)
    assert model.cfg.num_clusters == 0  # type: ignore[attr-defined]
    assert [lp.shape for lp in predict_log_probs(model, task.test[:3])] == [(len(f), len(task.vocab))
                                                                           for f in task.test[:3]]


def test_bad_inputs_get_clear_errors(task: DecipherTask, tmp_path: Path) -> None:
    bad_text = [*task.text[:5], np.array([len(task.vocab) + 3])]
    with pytest.raises(ValueError, match="different prepare_text runs"):
        _inputs(task, text=bad_text)
    nan = [f.copy() for f in task.train]
    nan[4][0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _inputs(task, train=nan)
    with pytest.raises(ValueError, match="no <SIL>"):
        _inputs(task, vocab=[p for p in task.vocab if p != "<SIL>"] + ["x"])
    with pytest.raises(ValueError, match="cannot fit 5000 clusters"):
        build_learner(_cfg(num_clusters=5000)).fit(_inputs(task), tmp_path / "k")
