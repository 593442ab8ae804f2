"""Unsupervised tuning of the word decoder's ``lm_weight`` and ``word_score`` (no transcripts).

Nothing here takes references: the criterion uses only the generator's outputs on unlabelled
validation audio, the word LM trained on unpaired text, and the decoder.

**Rule** (wav2vec-U's, from fairseq ``examples/wav2vec/unsupervised/kaldi_self_train/st/local/
unsup_select.py``, which ``unsup_select_decode_word.sh`` runs over every LM weight of the Kaldi word
decoder to keep the lowest score). For each setting of a grid, decode the validation outputs into
words and compute::

    pseudo_j  = Viterbi phones of utterance j (argmax, repeats merged, <SIL> removed): the pseudo-labels
    phones_j  = phones of the decoded words of utterance j, along the best path
    UER       = sum_j edit_distance(pseudo_j, phones_j) / sum_j len(pseudo_j)
    lm_ppl    = 10 ** (-sum_j log10 P_wordLM(words_j) / sum_j (len(words_j) + 1))   (</s> counted)
    score     = ln(lm_ppl) * max(UER, min_uer)                                       (lower is better)

The LM perplexity alone would favour a large LM weight that turns every utterance into frequent
word strings; the UER to the LM-free transcription alone would favour ignoring the LM; their
product trades fluency against faithfulness to the acoustics. ``min_uer`` (fairseq's
``--min_vt_uer``, default 0) stops a near-zero UER from hiding perplexity differences.

Differences from fairseq, all about degenerate outputs:

* **Empty outputs are penalised.** fairseq scores an empty hypothesis as the one-token sentence
  ``</s>``, which is cheap under the LM, so a setting that outputs nothing for hard utterances
  lowers its perplexity. Here the perplexity is taken over non-empty hypotheses only, an empty
  hypothesis counts as deleting its whole pseudo-label in the UER, and a setting whose every
  hypothesis is empty scores ``inf``.
* ``<unk>`` words are left out of the LM score (fairseq deletes them too), but their phones count
  in the UER.
* Phones come from the decoder's best path instead of re-phonemising the words with the lexicon
  (identical when each word has one pronunciation; right for the variant actually used otherwise).

Ties are broken by the lower perplexity, then by grid order (``lm_weights`` outer, ``word_scores``
inner). Apply the result with ``decoder.with_options(lm_weight=..., word_score=...)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from unsup_asr.decode.lexicon_lm import UNK, LexiconDecoder, WordHypothesis
from unsup_asr.decode.viterbi import ViterbiConfig, decode_one
from unsup_asr.metrics.edit import error_rate
from unsup_asr.text.lm import KenLM


@dataclass(kw_only=True)
class TuningConfig:
    """Grid and criterion options of :func:`tune_lexicon_decoder`."""

    lm_weights: list[float] = field(default_factory=lambda: [0.0, 0.5, 1.0, 2.0, 3.0, 4.0])
    """LM weights tried (log10 LM scores against natural-log emissions; each >= 0)."""
    word_scores: list[float] = field(default_factory=lambda: [-2.0, -1.0, 0.0, 1.0, 2.0])
    """Word scores tried (per emitted word)."""
    min_uer: float = 0.0
    """Floor on the UER factor (fraction, 0-1), fairseq's ``--min_vt_uer``."""
    progress: bool = True
    """Show a tqdm progress bar over grid settings."""

    def validate(self) -> None:
        """Raise ValueError on an invalid configuration."""
        if not self.lm_weights or not self.word_scores:
            raise ValueError("TuningConfig.lm_weights and word_scores must each hold at least one value")
        if any(not math.isfinite(w) or w < 0 for w in self.lm_weights):
            raise ValueError(f"TuningConfig.lm_weights={self.lm_weights} must be finite numbers >= 0")
        if any(not math.isfinite(s) for s in self.word_scores):
            raise ValueError(f"TuningConfig.word_scores={self.word_scores} must be finite")
        if not 0.0 <= self.min_uer <= 1.0:
            raise ValueError(f"TuningConfig.min_uer={self.min_uer} must be a fraction in [0, 1]")


@dataclass(frozen=True)
class SelectionScore:
    """Label-free quality estimate of one set of word hypotheses (lower ``score`` is better)."""

    score: float
    """``ln(lm_ppl) * max(uer, min_uer)``; ``inf`` if every hypothesis is empty."""
    lm_ppl: float
    """Word-LM perplexity of the non-empty hypotheses (``</s>`` counted); ``inf`` if none."""
    uer: float
    """Phone edit distance to the Viterbi pseudo-labels over their length (fraction)."""
    num_words: int
    """Decoded words, ``<unk>`` included."""
    num_empty: int
    """Utterances decoded to no word."""


@dataclass(frozen=True)
class GridPoint:
    """One decoded setting of the grid."""

    lm_weight: float
    """LM weight of this setting."""
    word_score: float
    """Word score of this setting."""
    selection: SelectionScore
    """Its label-free score."""

    def row(self) -> dict[str, Any]:
        """Flat dict for logging (``lm_weight``, ``word_score``, ``score``, ``lm_ppl``, ...)."""
        return {"lm_weight": self.lm_weight, "word_score": self.word_score, **dataclasses.asdict(self.selection)}


@dataclass(frozen=True)
class TuningResult:
    """Outcome of :func:`tune_lexicon_decoder`."""

    best: GridPoint
    """The selected setting."""
    grid: list[GridPoint]
    """Every setting, in grid order."""

    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per setting, for logging or a CSV."""
        return [p.row() for p in self.grid]


def viterbi_pseudo_labels(log_probs: Sequence[np.ndarray], vocab: Sequence[str], silence: str) -> list[list[str]]:
    """Greedy phone transcription of each ``(S_i, V)`` array (repeats merged, silence removed)."""
    cfg = ViterbiConfig(silence=silence)
    return [decode_one(np.asarray(lp), vocab, cfg) for lp in log_probs]


def selection_score(
    hyps: Sequence[WordHypothesis],
    pseudo_labels: Sequence[Sequence[str]],
    word_lm: KenLM,
    *,
    min_uer: float = 0.0,
) -> SelectionScore:
    """The tuning criterion of the module docstring for one set of hypotheses.

    Args:
        hyps: decoded utterances (words and path phones).
        pseudo_labels: Viterbi phones of the same utterances, same order.
        word_lm: the word LM (its log10 scores).
        min_uer: floor on the UER factor.
    """
    if len(hyps) != len(pseudo_labels):
        raise ValueError(f"got {len(hyps)} hypotheses but {len(pseudo_labels)} pseudo-labels: pass one per utterance")
    if not 0.0 <= min_uer <= 1.0:
        raise ValueError(f"min_uer={min_uer} must be a fraction in [0, 1]")
    if sum(len(p) for p in pseudo_labels) == 0:
        raise ValueError("every Viterbi pseudo-label is empty (the generator outputs only silence): "
                         "nothing to tune against; pick another checkpoint")
    uer = error_rate(pseudo_labels, [h.phones for h in hyps]).rate
    non_empty = [h.words for h in hyps if h.words]
    num_empty = len(hyps) - len(non_empty)
    num_words = sum(len(w) for w in non_empty)
    if not non_empty:
        return SelectionScore(score=math.inf, lm_ppl=math.inf, uer=uer, num_words=0, num_empty=num_empty)
    scored = [[w for w in words if w != UNK] for words in non_empty]
    total = sum(word_lm.score(words) for words in scored)
    lm_ppl = float(10.0 ** (-total / (sum(len(w) for w in scored) + len(scored))))
    score = math.log(lm_ppl) * max(uer, min_uer)
    return SelectionScore(score=score, lm_ppl=lm_ppl, uer=uer, num_words=num_words, num_empty=num_empty)


def tune_lexicon_decoder(
    decoder: LexiconDecoder,
    log_probs: Sequence[np.ndarray],
    word_lm: KenLM,
    config: TuningConfig | None = None,
) -> TuningResult:
    """Grid-search ``(lm_weight, word_score)`` on unlabelled outputs with the label-free rule.

    Args:
        decoder: the word decoder (its other options are kept for every setting).
        log_probs: validation outputs, per utterance ``(S_i, V)`` natural-log phone probabilities.
        word_lm: the word LM used by ``decoder``, loaded for scoring.
        config: grid and criterion options.

    Returns:
        The best setting and the whole grid (see :meth:`TuningResult.rows` for logging).
    """
    cfg = config or TuningConfig()
    cfg.validate()
    if not log_probs:
        raise ValueError("no validation utterances to tune on")
    pseudo = viterbi_pseudo_labels(log_probs, decoder.vocab, decoder.config.silence)
    settings = [(w, s) for w in cfg.lm_weights for s in cfg.word_scores]
    grid: list[GridPoint] = []
    for lm_weight, word_score in tqdm(settings, desc="tune lm_weight/word_score", disable=not cfg.progress,
                                      leave=False):
        hyps = decoder.with_options(lm_weight=lm_weight, word_score=word_score).decode(log_probs, progress=False)
        grid.append(GridPoint(lm_weight=lm_weight, word_score=word_score,
                              selection=selection_score(hyps, pseudo, word_lm, min_uer=cfg.min_uer)))
    best = min(grid, key=lambda p: (p.selection.score, p.selection.lm_ppl))
    return TuningResult(best=best, grid=grid)
