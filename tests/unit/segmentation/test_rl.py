"""RL boundary segmenter: environment, reward terms, policy, behaviour cloning, policy gradient, the
``rl`` segmenter, and one tiny ``rl-iterate`` run."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from gan.config import GeneratorConfig
from gan.generator import Generator
from segmentation import SEGMENTERS
from segmentation.kmeans_join import KMeansJoinConfig, KMeansJoinSegmenter
from segmentation.rl.config import PolicyConfig, RewardConfig, RlConfig
from segmentation.rl.env import BoundaryEnv
from segmentation.rl.policy import BoundaryPolicy, greedy_boundaries, load_policy, log_prob, save_policy
from segmentation.rl.ppo import Rollout, advantages, behaviour_cloning, train_policy, update
from segmentation.rl.projection import FrameProjection
from segmentation.rl.reward import (
    RewardTerms,
    combine,
    edit_term,
    length_term,
    perplexity_term,
    reward_terms,
    utterance_perplexity,
)
from segmentation.rl.scorer import RewardScorer
from tests.unit.stages.test_pipeline import TINY as PIPELINE_TINY

VOCAB = ["a", "b", "c", "d", "<SIL>"]


class TokenLM:
    """log10 P(sentence) = -(tokens + 1) * cost, plus a bonus for every ``a``: a known, LM-like scorer."""

    def __init__(self, cost: float = 1.0) -> None:
        self.cost = cost

    def score(self, tokens: Sequence[str], *, bos: bool = True, eos: bool = True) -> float:
        return -(len(tokens) + 1) * self.cost + 0.5 * sum(t == "a" for t in tokens)


def _feats(n: int = 6, dim: int = 5, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(int(t), dim)).astype(np.float32) for t in rng.integers(6, 20, size=n)]


def _scorer(feats: list[np.ndarray], cfg: RewardConfig | None = None) -> RewardScorer:
    torch.manual_seed(0)
    gen = Generator(GeneratorConfig(num_clusters=0, init_std=1.0), feats[0].shape[1], VOCAB)
    prev = [["a", "b"], ["c"], [], ["a", "b", "c", "d"], ["d", "d"], ["b"]][: len(feats)]
    return RewardScorer(feats, "mean", gen, TokenLM(), prev, cfg or RewardConfig())


# --- reward terms ---------------------------------------------------------------------------------------------


def test_reward_terms_known_values() -> None:
    lm = TokenLM()
    # no "a": log10 P = -(n + 1), so the perplexity is exactly 10; two "a"s in 2 tokens: 10 ** (-(3 - 1) / 3)
    np.testing.assert_allclose(utterance_perplexity([["b", "c"], []], lm), [10.0, 10.0])
    np.testing.assert_allclose(utterance_perplexity([["a", "a"]], lm), [10 ** (2 / 3)])
    np.testing.assert_allclose(perplexity_term(np.array([12.0, 5.0, 100.0]), np.array([10.0, 10.0, 10.0]), 1.0),
                               [0.2, -0.5, 1.0])  # the last one is clipped
    np.testing.assert_allclose(edit_term([["a", "c"], ["a"], []], [["a", "b", "c"], [], ["x", "y"]]),
                               [1 / 3, 1.0, 1.0])
    np.testing.assert_allclose(length_term(np.array([2, 3, 0]), np.array([4, 0, 2])), [0.5, 2.0, 1.0])
    cfg = RewardConfig(ppl=1.0, edit=0.5, length=2.0)
    np.testing.assert_allclose(combine(np.array([0.2]), np.array([0.4]), np.array([0.1]), cfg), [-(0.2 + 0.2 + 0.2)])


def test_zero_coefficient_removes_its_term() -> None:
    ppl, edit, length = np.array([0.3, -0.2]), np.array([np.inf, 0.5]), np.array([1.0, 2.0])
    without_edit = combine(ppl, edit, length, RewardConfig(edit=0.0, length=1.0))
    np.testing.assert_allclose(without_edit, -(ppl + length))  # even an infinite edit term is gone
    np.testing.assert_allclose(combine(ppl, edit, length, RewardConfig(ppl=0.0, edit=0.0, length=0.0)), [0.0, 0.0])
    only_ppl = combine(ppl, np.array([1.0, 1.0]), length, RewardConfig(edit=0.0, length=0.0))
    np.testing.assert_allclose(only_ppl, -ppl)


def test_reward_is_zero_for_the_previous_transcription() -> None:
    hyps = [["a", "b"], ["c"]]
    prev_ppl = utterance_perplexity(hyps, TokenLM())
    terms = reward_terms(hyps, hyps, prev_ppl, TokenLM(), RewardConfig())
    np.testing.assert_allclose(terms.reward, [0.0, 0.0])
    worse = reward_terms([["b", "b", "c"], []], hyps, prev_ppl, TokenLM(), RewardConfig())
    assert np.all(worse.reward < 0)


# --- environment ----------------------------------------------------------------------------------------------


def test_check_env_passes() -> None:
    feats = _feats()
    env = BoundaryEnv(feats, _scorer(feats))
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=3, options={"index": 2})
    assert obs["features"].shape == (env.max_frames, 5) and int(obs["mask"].sum()) == len(feats[2])
    assert info["index"] == 2


def test_env_reward_equals_batched_reward() -> None:
    feats = _feats()
    scorer = _scorer(feats)
    env = BoundaryEnv(feats, scorer)
    rng = np.random.default_rng(1)
    actions = (rng.random((len(feats), env.max_frames)) < 0.4).astype(np.int8)
    env_rewards = []
    for i in range(len(feats)):
        env.reset(options={"index": i})
        _, reward, terminated, truncated, _ = env.step(actions[i])
        assert terminated and not truncated
        env_rewards.append(reward)
    bounds = actions.astype(bool)
    bounds[:, 0] = True
    batched = scorer.score(list(range(len(feats))), torch.from_numpy(bounds))
    np.testing.assert_allclose(env_rewards, batched.reward, rtol=1e-6)
    assert len({round(r, 6) for r in env_rewards}) > 1  # the rewards really differ between utterances


# --- policy, behaviour cloning, policy gradient ---------------------------------------------------------------


def _marked(n: int = 12, dim: int = 4, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Utterances whose boundaries are where feature 0 is high (a policy can learn them exactly)."""
    rng = np.random.default_rng(seed)
    feats, bounds = [], []
    for _ in range(n):
        t = int(rng.integers(15, 40))
        b = rng.random(t) < 0.25
        b[0] = True
        x = rng.normal(scale=0.3, size=(t, dim)).astype(np.float32)
        x[:, 0] += 2.0 * b
        feats.append(x)
        bounds.append(b)
    return feats, bounds


def test_behaviour_cloning_reproduces_boundaries() -> None:
    feats, bounds = _marked()
    torch.manual_seed(0)
    policy = BoundaryPolicy(PolicyConfig(hidden=16, kernel_size=3, num_layers=1), 4)
    policy.set_standardization(feats)
    cfg = RlConfig(bc_epochs=60, bc_batch_size=4, bc_lr=1e-2)
    behaviour_cloning(policy, feats, bounds, cfg, torch.device("cpu"), np.random.default_rng(0))
    for x, b in zip(feats, bounds, strict=True):
        valid = torch.ones(1, len(x), dtype=torch.bool)
        pred = greedy_boundaries(policy(torch.from_numpy(x)[None], valid), valid)[0].numpy()
        np.testing.assert_array_equal(pred, b)


def test_policy_is_unchanged_by_padding() -> None:
    feats = _feats(n=3)
    policy = BoundaryPolicy(PolicyConfig(hidden=8, kernel_size=5, num_layers=2), 5)
    longest = max(len(x) for x in feats)
    batch = torch.zeros(3, longest + 7, 5)
    valid = torch.zeros(3, longest + 7, dtype=torch.bool)
    for i, x in enumerate(feats):
        batch[i, : len(x)] = torch.from_numpy(x)
        valid[i, : len(x)] = True
    logits = policy(batch, valid)
    for i, x in enumerate(feats):
        alone = policy(torch.from_numpy(x)[None], torch.ones(1, len(x), dtype=torch.bool))[0]
        torch.testing.assert_close(logits[i, : len(x)], alone)


def test_update_raises_log_prob_of_the_rewarded_action() -> None:
    feats = _feats(n=1)
    torch.manual_seed(0)
    policy = BoundaryPolicy(PolicyConfig(hidden=8, kernel_size=3, num_layers=1), 5)
    x = torch.from_numpy(feats[0])[None]
    valid = torch.ones(1, x.shape[1], dtype=torch.bool)
    good = torch.zeros(1, x.shape[1], dtype=torch.bool)
    good[0, ::3] = True
    bad = ~good
    bad[0, 0] = True
    actions = torch.cat([good, bad])
    with torch.no_grad():
        before = log_prob(policy(x, valid).repeat(2, 1), actions, valid.repeat(2, 1))
    rewards = torch.tensor([1.0, 0.0])
    rollout = Rollout(indices=[0], feats=x, valid=valid, actions=actions, log_probs=before, rewards=rewards,
                      terms=RewardTerms(**{k: np.zeros(2) for k in ("ppl", "ppl_term", "edit_term", "length_term",
                                                                    "reward", "num_tokens")}))
    cfg = RlConfig(lr=1e-2, entropy_coef=0.0)
    update(policy, torch.optim.Adam(policy.parameters(), lr=cfg.lr), rollout, advantages(rewards, 2), cfg)
    with torch.no_grad():
        after = log_prob(policy(x, valid).repeat(2, 1), actions, valid.repeat(2, 1))
    assert after[0] > before[0] and after[1] < before[1]


def test_advantages_leave_one_out() -> None:
    adv = advantages(torch.tensor([1.0, 0.0, 2.0, 2.0]), 2)  # baselines: 0, 1, 2, 2
    raw = torch.tensor([1.0, -1.0, 0.0, 0.0])
    torch.testing.assert_close(adv, raw / (raw.std() + 1e-8))


class BanditScorer:
    """Toy reward: minus the number of frames whose boundary differs from the known ones."""

    def __init__(self, bounds: list[np.ndarray]) -> None:
        self.bounds = bounds

    def score(self, indices: Sequence[int], boundaries: torch.Tensor) -> RewardTerms:
        b = boundaries.numpy()
        wrong = np.asarray([float((b[k, : len(self.bounds[i])] != self.bounds[i]).sum())
                            for k, i in enumerate(indices)])
        zeros = np.zeros(len(indices))
        return RewardTerms(ppl=zeros, ppl_term=zeros, edit_term=zeros, length_term=zeros, reward=-wrong,
                           num_tokens=zeros)


def test_policy_gradient_learns_a_toy_bandit() -> None:
    feats, bounds = _marked(n=8, seed=1)
    torch.manual_seed(0)
    policy = BoundaryPolicy(PolicyConfig(hidden=16, kernel_size=3, num_layers=1), 4)
    cfg = RlConfig(bc_epochs=0, rl_updates=150, rl_max_seconds=0, batch_size=8, samples_per_utterance=4, lr=1e-2,
                   entropy_coef=0.0, log_every=25)
    result = train_policy(cfg, policy, feats, bounds, BanditScorer(bounds), device=torch.device("cpu"), seed=0)
    rewards = [r["charts/reward"] for r in result.history if "charts/reward" in r]
    assert result.updates == 150 and len(rewards) == 6
    assert rewards[-1] > rewards[0] + 3.0  # several fewer wrong frames per utterance than at the start
    assert rewards[-1] > -2.0


# --- the rl segmenter -------------------------------------------------------------------------------------------


def test_rl_segmenter_loads_a_policy_and_batches_like_per_utterance(tmp_path: Path) -> None:
    feats = _feats(n=5, dim=6)
    km = KMeansJoinSegmenter(KMeansJoinConfig(pca_dim=3, num_clusters=4))
    km.fit(feats)
    torch.manual_seed(0)
    policy = BoundaryPolicy(PolicyConfig(hidden=8, kernel_size=3, num_layers=2), 6)
    policy.set_standardization(feats)
    with torch.no_grad():
        policy.out.bias.fill_(0.5)  # type: ignore[union-attr]
    path = tmp_path / "policy.pt"
    save_policy(path, policy, FrameProjection.from_segmenter(km, 6))
    loaded, projection = load_policy(path)
    assert projection.out_dim == 3
    first, valid = torch.from_numpy(feats[0])[None], torch.ones(1, len(feats[0]), dtype=torch.bool)
    torch.testing.assert_close(loaded(first, valid), policy.eval()(first, valid))

    entry = SEGMENTERS.get("rl")
    seg = entry.cls(entry.config(policy=str(path)))  # type: ignore[call-arg]
    lens = torch.tensor([len(x) for x in feats])
    batch = torch.zeros(len(feats), int(lens.max()) + 3, 6)
    for i, x in enumerate(feats):
        batch[i, : len(x)] = torch.from_numpy(x)
    batched = seg(batch, lens).unbatch(lens)
    counts = []
    for x, (b, e) in zip(feats, batched, strict=True):
        (b1, e1), = seg(torch.from_numpy(x)[None], torch.tensor([len(x)])).unbatch(torch.tensor([len(x)]))
        np.testing.assert_array_equal(b, b1)
        np.testing.assert_array_equal(e, e1)
        # pooled exactly like kmeans_join: its PCA frames, averaged over each segment
        starts = np.flatnonzero(b)
        ends = np.append(starts[1:], len(x))
        expected = np.stack([km.project(x)[s:t].mean(0) for s, t in zip(starts, ends, strict=True)])
        np.testing.assert_allclose(e, expected, rtol=1e-5, atol=1e-6)
        assert b[0]
        counts.append(int(b.sum()))
    assert 1 < max(counts) and min(counts) < max(len(x) for x in feats)


def test_rl_segmenter_needs_a_policy() -> None:
    entry = SEGMENTERS.get("rl")
    with pytest.raises(ValueError, match=r"segmenter\.policy"):
        entry.cls(entry.config())  # type: ignore[call-arg]


def test_config_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match=r"rl\.samples_per_utterance"):
        RlConfig(samples_per_utterance=0).validate()
    with pytest.raises(ValueError, match=r"rl\.reward\.edit"):
        RlConfig(reward=RewardConfig(edit=-1.0)).validate()
    with pytest.raises(ValueError, match=r"rl\.gan_overrides"):
        RlConfig(gan_overrides=["code_penalty"]).validate()
    with pytest.raises(ValueError, match="kernel_size"):
        replace(RlConfig(), policy=PolicyConfig(kernel_size=4)).validate()


# --- GAN re-training initialised from a checkpoint --------------------------------------------------------------


def test_gan_starts_from_the_given_generator(tmp_path: Path) -> None:
    from gan.checkpoint import load_generator, save_best
    from gan.config import GanConfig
    from gan.generator import predict_log_probs
    from gan.trainer import train_gan
    from unsup_asr.decode.viterbi import decode_one

    rng = np.random.default_rng(0)
    train = [rng.normal(size=(int(n), 6)).astype(np.float32) for n in rng.integers(3, 9, size=20)]
    valid = train[:5]
    text = [rng.integers(0, len(VOCAB), size=int(n)) for n in rng.integers(3, 9, size=20)]
    cfg = GanConfig(generator=GeneratorConfig(num_clusters=0), num_updates=2, batch_size=4, num_seeds=1,
                    eval_every=100)
    torch.manual_seed(5)
    init = Generator(GeneratorConfig(num_clusters=0, init_std=1.0), 6, VOCAB)  # unlike a fresh init (std 0.01)
    save_best(tmp_path / "init.pt", gen=init, cfg=cfg, step=0, score=0.0)
    init_hyps = [decode_one(lp, VOCAB) for lp in predict_log_probs(init, valid)]

    def score(hyps: list[list[str]]) -> float:  # label-free stand-in: distance to the initial generator's output
        return float(sum(h != r for h, r in zip(hyps, init_hyps, strict=True)))

    result = train_gan(cfg, train, text, VOCAB, tmp_path / "from_init", valid=valid, select_score=score,
                       init_generator=tmp_path / "init.pt")
    assert result.history[0]["eval/select_score"] == 0.0  # step 0 decodes exactly like the initial generator
    fresh = train_gan(cfg, train, text, VOCAB, tmp_path / "fresh", valid=valid, select_score=score)
    assert fresh.history[0]["eval/select_score"] > 0.0
    torch.testing.assert_close(load_generator(result.best_checkpoint).proj.weight, init.proj.weight)
    other = Generator(GeneratorConfig(num_clusters=0), 4, VOCAB)
    save_best(tmp_path / "other.pt", gen=other, cfg=cfg, step=0, score=0.0)
    with pytest.raises(ValueError, match="input dim 4"):
        train_gan(cfg, train, text, VOCAB, tmp_path / "bad", valid=valid, select_score=score,
                  init_generator=tmp_path / "other.pt")


# --- rl-iterate on a tiny run ---------------------------------------------------------------------------------

TINY = [
    *PIPELINE_TINY,
    "text.word_lm_order=0",
    "learner.num_seeds=1",
    "rl.bc_epochs=2",
    "rl.rl_updates=4",
    "rl.batch_size=4",
    "rl.gan_num_updates=20",
    "rl.log_every=2",
]


def test_rl_iterate_on_a_tiny_run(tmp_path: Path, kenlm_tools: None) -> None:
    from unsup_asr.cli import load_config
    from unsup_asr.stages import extract_features, prepare_data, prepare_text, rl_iterate, segment, train_gan

    cfg = load_config([*TINY, f"out={tmp_path}"])
    for stage in (prepare_data, extract_features, prepare_text, segment, train_gan):
        stage.run(cfg)
    root = rl_iterate.run(cfg)
    summary = json.loads((root / "summary.json").read_text())
    assert [r["iteration"] for r in summary["iterations"]] == [0, 1, 2]
    for i, record in enumerate(summary["iterations"]):
        assert math.isfinite(record["unsupervised"]["valid_weighted_lm_ppl"])
        assert record["evaluation_only"]["test"]["per"] >= 0.0
        assert 0.0 <= record["evaluation_only"]["test"]["boundary_f1"] <= 1.0
        if i:
            assert record["policy"]["updates"] == 4 and record["learner"]["updates"] == 20
            for name in ("policy.pt", "seg/train.npz", "seg/test.npz", "learn/best.pt", ".done"):
                assert (root / f"iter{i}" / name).is_file(), name
    # a finished iteration is skipped on re-run
    stamp = (root / "iter2" / "record.json").stat().st_mtime_ns
    rl_iterate.run(cfg)
    assert (root / "iter2" / "record.json").stat().st_mtime_ns == stamp
    # and the saved policy works as the `rl` segmenter of the segment stage
    cfg.segmenter = SEGMENTERS.get("rl").config(policy=str(root / "iter2" / "policy.pt"))
    out = segment.run(cfg)
    assert (out / "test.npz").is_file() and out.name == "rl"
