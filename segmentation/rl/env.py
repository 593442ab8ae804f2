"""``BoundaryEnv``: boundary proposal as a gymnasium environment, one utterance per one-step episode.

- ``reset`` picks an utterance (``options={"index": i}``, else uniformly with the env's seeded RNG)
  and observes its frame features, zero-padded to ``max_frames``, with a validity mask.
- ``step(action)`` takes a ``MultiBinary(max_frames)`` action (1 = the frame starts a segment; frame
  0 always does, and frames beyond the utterance are ignored), transcribes the segments with the
  fixed current generator and returns the reward of :mod:`segmentation.rl.reward`; the episode then
  terminates. ``info`` carries the reward's terms.

One-step episodes avoid a Python step per 20 ms frame while keeping gymnasium's checker and vector
environments usable. The training loop (:mod:`segmentation.rl.ppo`) asks the same
:class:`~segmentation.rl.scorer.RewardScorer` for whole batches, so both give the same rewards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from segmentation.rl.scorer import RewardScorer

Observation = dict[str, np.ndarray]
FEATURE_BOUND = float(np.finfo(np.float16).max)
"""Observation bound: the feature cache stores float16, so every cached feature lies within +-65504."""


class BoundaryEnv(gymnasium.Env[Observation, np.ndarray]):
    """Segment one utterance per episode; reward from the fixed generator's transcription.

    Args:
        feats: per utterance, frame features ``(T_i, D)`` (the policy's input).
        scorer: reward of segmentations of the same utterances, in the same order.
        max_frames: observation and action length (default: the longest utterance).
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 - gymnasium's class attribute

    def __init__(self, feats: Sequence[np.ndarray], scorer: RewardScorer, *, max_frames: int = 0) -> None:
        if not feats:
            raise ValueError("BoundaryEnv needs at least one utterance")
        if len(feats) != len(scorer):
            raise ValueError(f"{len(feats)} utterances of features but the scorer has {len(scorer)}")
        longest = max(len(f) for f in feats)
        self.max_frames = max_frames or longest
        if self.max_frames < longest:
            raise ValueError(f"max_frames={self.max_frames} is shorter than the longest utterance ({longest} frames)")
        self.feats = [np.asarray(f, np.float32) for f in feats]
        if any(np.abs(f).max(initial=0.0) > FEATURE_BOUND for f in self.feats):
            raise ValueError(f"frame features beyond +-{FEATURE_BOUND} (float16's range, that of the feature cache)")
        self.scorer = scorer
        dim = self.feats[0].shape[1]
        # gymnasium types spaces.Dict as Space[dict[str, object]]; its samples are these arrays
        self.observation_space = spaces.Dict({  # type: ignore[assignment]
            "features": spaces.Box(-FEATURE_BOUND, FEATURE_BOUND, shape=(self.max_frames, dim), dtype=np.float32),
            "mask": spaces.MultiBinary(self.max_frames),
        })
        self.action_space = spaces.MultiBinary(self.max_frames)
        self.index = 0

    def _observation(self) -> Observation:
        x = self.feats[self.index]
        features = np.zeros((self.max_frames, x.shape[1]), np.float32)
        features[: len(x)] = x
        mask = np.zeros(self.max_frames, np.int8)
        mask[: len(x)] = 1
        return {"features": features, "mask": mask}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Observation, dict[str, Any]]:
        """Start an episode on utterance ``options["index"]``, or on one drawn by the seeded RNG."""
        super().reset(seed=seed)
        if options and "index" in options:
            index = int(options["index"])
            if not 0 <= index < len(self.feats):
                raise ValueError(f"options['index']={index} outside [0, {len(self.feats)})")
            self.index = index
        else:
            self.index = int(self.np_random.integers(len(self.feats)))
        return self._observation(), {"index": self.index, "num_frames": len(self.feats[self.index])}

    def boundaries(self, action: np.ndarray) -> np.ndarray:
        """The utterance's boundaries ``(T,)`` bool for ``action``: cut to its frames, frame 0 set."""
        bounds = np.asarray(action[: len(self.feats[self.index])]).astype(bool)
        bounds[0] = True
        return bounds

    def step(self, action: np.ndarray) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        """Score the proposed boundaries; the episode terminates."""
        if np.shape(action) != (self.max_frames,):
            raise ValueError(f"action must have shape ({self.max_frames},), got {np.shape(action)}")
        bounds = self.boundaries(action)
        terms = self.scorer.score([self.index], bounds[None])
        info = {
            "index": self.index,
            "num_segments": int(bounds.sum()),
            "ppl": float(terms.ppl[0]),
            "ppl_term": float(terms.ppl_term[0]),
            "edit_term": float(terms.edit_term[0]),
            "length_term": float(terms.length_term[0]),
        }
        return self._observation(), float(terms.reward[0]), True, False, info
