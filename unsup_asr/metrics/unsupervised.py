"""Unsupervised model selection: wav2vec-U's vocabulary-weighted LM perplexity.

This metric uses **no transcripts**: only the model's own argmax outputs on unlabelled validation
audio and an n-gram LM trained on unpaired text. It is the **only** checkpoint (and
hyper-parameter) selection criterion in unsup-asr; PER/WER against references are reported for
the selected checkpoint, never used to choose it.

Definition (fairseq ``examples/wav2vec/unsupervised/tasks/unpaired_audio_text.py``), on argmax
outputs with repeats merged and silence removed::

    lm_ppl          = 10 ** (-sum_s log10 P_LM(s) / (num_pred_tokens + num_sentences))
    vocab_seen_pct  = #distinct predicted phones / #phones in the inventory (silence excluded)
    weighted_lm_ppl = lm_ppl / vocab_seen_pct ** power        (power = 2 by default; lower is better)

Each sentence is scored with ``<s>``/``</s>``, and ``</s>`` counts as one token, so an empty
hypothesis contributes ``log10 P(</s> | <s>)`` and one token, exactly as wav2vec-U scores it. The
division by vocabulary usage penalises a generator that collapses onto a few frequent phones
(which a plain LM perplexity would reward). If every hypothesis is empty, ``vocab_seen_pct`` is 0
and ``weighted_lm_ppl`` is ``inf``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from unsup_asr.text.lm import KenLM


@dataclass(frozen=True)
class UnsupervisedScore:
    """Label-free quality estimate of a set of hypotheses (lower ``weighted_lm_ppl`` is better)."""

    lm_ppl: float
    """LM perplexity of the hypotheses, ``</s>`` counted as a token."""
    vocab_seen_pct: float
    """Fraction (0-1) of the non-silence phone inventory that appears in the hypotheses."""
    weighted_lm_ppl: float
    """``lm_ppl / vocab_seen_pct ** power``; ``inf`` when no phone is predicted at all."""
    num_tokens: int
    """Number of predicted tokens (without ``</s>``)."""


def weighted_lm_ppl(
    hyps: Sequence[Sequence[str]],
    lm: KenLM,
    *,
    vocab: Sequence[str],
    power: float = 2.0,
    silence: str = "<SIL>",
) -> UnsupervisedScore:
    """wav2vec-U's selection metric on decoded hypotheses (see the module docstring).

    Args:
        hyps: per utterance, predicted phones with repeats merged and silence removed
            (what :class:`unsup_asr.decode.viterbi.ViterbiDecoder` returns).
        lm: phone LM trained on the unpaired text.
        vocab: the generator's output inventory; ``silence`` is excluded from the count if present.
        power: exponent of the vocabulary-usage penalty (wav2vec-U's ``vocab_usage_power``).
        silence: the silence token, which must not appear in ``hyps``.
    """
    if not hyps:
        raise ValueError("no hypotheses to score: decode at least one validation utterance")
    if power < 0 or not math.isfinite(power):
        raise ValueError(f"power must be a finite number >= 0, got {power}")
    inventory = set(vocab) - {silence}
    if not inventory:
        raise ValueError(f"the phone inventory {list(vocab)} has no phones besides silence {silence!r}")
    seen: set[str] = set()
    for hyp in hyps:
        seen.update(hyp)
    unknown = seen - inventory
    if unknown:
        raise ValueError(
            f"hypotheses contain tokens outside the non-silence inventory: {sorted(unknown)[:10]}; "
            f"remove silence ({silence!r}) before scoring and pass the generator's vocab"
        )
    num_tokens = sum(len(h) for h in hyps)
    total_log10 = sum(lm.score(h) for h in hyps)
    lm_ppl = float(10.0 ** (-total_log10 / (num_tokens + len(hyps))))
    vocab_seen_pct = len(seen) / len(inventory)
    weighted = lm_ppl / vocab_seen_pct**power if vocab_seen_pct > 0 else math.inf
    return UnsupervisedScore(
        lm_ppl=lm_ppl, vocab_seen_pct=vocab_seen_pct, weighted_lm_ppl=weighted, num_tokens=num_tokens
    )
