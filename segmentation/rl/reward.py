"""The RL segmenter's reward: three terms on a batch of transcriptions, and their weighted sum.

All functions are pure and work on a batch of ``B`` utterances. A transcription is the phone list
the fixed current generator outputs for the proposed segments (Viterbi: argmax, repeats merged,
silence removed); ``prev`` is the previous iteration's transcription of the same utterance. No
reference transcript is involved anywhere. Signs and units (every term is a cost, >= 0 or signed,
and 0 when the transcription equals the previous one):

- ``perplexity_term``: ``(ppl - prev_ppl) / prev_ppl``, clipped to ``[-clip, clip]``; unitless
  relative change of the utterance's phone-LM perplexity (``10 ** (-log10 P / (n + 1))``, ``</s>``
  counted, as :func:`unsup_asr.metrics.unsupervised.weighted_lm_ppl`). Negative = more text-like.
- ``edit_term``: Levenshtein distance to ``prev`` divided by ``max(len(prev), 1)`` (edits per
  previous phone), REBORN's token error rate against the previous iteration's output.
- ``length_term``: ``|len / max(len(prev), 1) - 1|``, the relative change of the output length.

``reward = -(c_ppl * perplexity_term + c_edit * edit_term + c_len * length_term)`` (higher is
better). REBORN standardises the edit and length terms within a batch; here the terms stay raw so
that an utterance's reward does not depend on its batch (the environment and the batched training
path give the same number), and the policy-gradient advantages are normalised instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from segmentation.rl.config import RewardConfig
from unsup_asr.metrics.edit import edit_ops


class SentenceLM(Protocol):
    """What the reward needs of a language model (:class:`unsup_asr.text.lm.KenLM` is one)."""

    def score(self, tokens: Sequence[str], *, bos: bool = True, eos: bool = True) -> float:
        """Log10 probability of the sentence ``tokens``."""
        ...


@dataclass(frozen=True)
class RewardTerms:
    """Reward and its parts for ``B`` utterances, each a float64 ``(B,)`` array."""

    ppl: np.ndarray
    """Phone-LM perplexity of each transcription."""
    ppl_term: np.ndarray
    """Clipped relative perplexity change (see the module docstring)."""
    edit_term: np.ndarray
    """Normalised edit distance to the previous transcription."""
    length_term: np.ndarray
    """Relative length change against the previous transcription."""
    reward: np.ndarray
    """``-(c_ppl * ppl_term + c_edit * edit_term + c_len * length_term)``."""
    num_tokens: np.ndarray
    """Length of each transcription in phones."""


def utterance_perplexity(hyps: Sequence[Sequence[str]], lm: SentenceLM) -> np.ndarray:
    """Per-utterance LM perplexity ``10 ** (-log10 P(h </s>) / (len(h) + 1))`` -> ``(B,)`` float64."""
    return np.asarray([10.0 ** (-lm.score(h) / (len(h) + 1)) for h in hyps], dtype=np.float64)


def perplexity_term(ppl: np.ndarray, prev_ppl: np.ndarray, clip: float) -> np.ndarray:
    """``clip((ppl - prev_ppl) / prev_ppl, -clip, clip)`` -> ``(B,)``; negative when the LM prefers ``ppl``'s."""
    if np.any(prev_ppl <= 0):
        raise ValueError("previous perplexities must be > 0 (a perplexity is >= 1)")
    return np.asarray(np.clip((np.asarray(ppl, np.float64) - prev_ppl) / prev_ppl, -clip, clip), dtype=np.float64)


def edit_term(hyps: Sequence[Sequence[str]], prev_hyps: Sequence[Sequence[str]]) -> np.ndarray:
    """Edit distance of each transcription to the previous one, per previous phone -> ``(B,)``."""
    if len(hyps) != len(prev_hyps):
        raise ValueError(f"{len(hyps)} transcriptions but {len(prev_hyps)} previous ones: pass one per utterance")
    return np.asarray([edit_ops(p, h).errors / max(len(p), 1) for h, p in zip(hyps, prev_hyps, strict=True)],
                      dtype=np.float64)


def length_term(lens: np.ndarray, prev_lens: np.ndarray) -> np.ndarray:
    """``|lens / max(prev_lens, 1) - 1|`` -> ``(B,)``: relative change of the transcription lengths (phones)."""
    return np.abs(np.asarray(lens, np.float64) / np.maximum(np.asarray(prev_lens, np.float64), 1.0) - 1.0)


def combine(ppl_term: np.ndarray, edit: np.ndarray, length: np.ndarray, cfg: RewardConfig) -> np.ndarray:
    """Weighted reward ``-(cfg.ppl * ppl_term + cfg.edit * edit + cfg.length * length)`` -> ``(B,)``.

    A zero coefficient removes its term entirely (even an infinite one).
    """
    reward = np.zeros(np.shape(ppl_term), dtype=np.float64)
    for coef, term in ((cfg.ppl, ppl_term), (cfg.edit, edit), (cfg.length, length)):
        if coef:
            reward -= coef * np.asarray(term, np.float64)
    return reward


def reward_terms(
    hyps: Sequence[Sequence[str]],
    prev_hyps: Sequence[Sequence[str]],
    prev_ppl: np.ndarray,
    lm: SentenceLM,
    cfg: RewardConfig,
) -> RewardTerms:
    """All terms and the reward of transcriptions ``hyps`` against the previous ``prev_hyps``
    (whose perplexities ``prev_ppl`` are given, to compute them once per iteration)."""
    ppl = utterance_perplexity(hyps, lm)
    lens = np.asarray([len(h) for h in hyps], dtype=np.float64)
    terms = {
        "ppl_term": perplexity_term(ppl, np.asarray(prev_ppl, np.float64), cfg.ppl_clip),
        "edit_term": edit_term(hyps, prev_hyps),
        "length_term": length_term(lens, np.asarray([len(p) for p in prev_hyps], dtype=np.float64)),
    }
    reward = combine(terms["ppl_term"], terms["edit_term"], terms["length_term"], cfg)
    return RewardTerms(ppl=ppl, reward=reward, num_tokens=lens, **terms)
