"""Beam-search decoding of segment-level phone scores with flashlight-text and KenLM.

This is the only module that imports ``flashlight-text``. Two decoders, both taking a list of
per-utterance ``(S, V)`` float arrays of natural-log phone probabilities (one row per segment,
``V`` = the generator's vocabulary, ``<SIL>`` included):

* :class:`LexiconDecoder`: words, through a lexicon trie over the phone vocabulary and a KenLM
  **word** n-gram (:func:`build_word_lm`);
* :class:`PhoneLMDecoder`: phones, lexicon-free, with a KenLM **phone** n-gram (PER with an LM).

**Criterion: CTC with blank = ``<SIL>``.** There is no blank output in our generator: every
segment gets a distribution over phones and ``<SIL>``. An over-segmented phone shows up as two
adjacent segments with the same phone, and two genuinely repeated phones are told apart only by a
silence between them (the text side inserts ``<SIL>`` there, and the synthetic task does too).
That is exactly CTC's topology with silence as the blank: a path's output is its segment labels
with repeats merged and ``<SIL>`` removed, the rule of :mod:`unsup_asr.decode.viterbi` and of
wav2vec-U's Kaldi decoder (whose CTC-style ``H`` uses ``<SIL>`` as blank). So flashlight runs with
``CriterionType.CTC`` and ``blank = sil = index of <SIL>``. Silence may then occur between words
and, as the blank, inside a word (a spurious silence segment costs only its score). ASG with zero
transitions was rejected: it would allow silence only between words and would read two adjacent
identical segments as either one or two phones, which contradicts both the Viterbi decoder and
the unsupervised metrics. Known limitation of the choice (shared with Viterbi): two words where
the second starts with the phone the first ends with need a silence segment between them.

**Trie.** Repeated phones inside a pronunciation are merged (segment outputs merge them too).
Each pronunciation is inserted twice, once as is and once with its last phone doubled, both
with the word's label. flashlight emits a word on the segment that first reaches its last phone
and then returns to the trie root, where only silence can be absorbed; without the doubled
spelling, an over-segmented last phone (``k ae t t``) would have to be read as silence. With it,
the extra segments of the last phone stay inside the word and the word is emitted on the last
one (flashlight 0.0.7 emits a word on entering a labelled node even when the phone repeats;
``tests/unit/decode/test_lexicon_lm.py`` pins that behaviour).

Scores: emissions are natural-log probabilities, KenLM scores are log10 (flashlight's KenLM), and
a hypothesis maximises ``sum(emissions) + lm_weight * log10 P_LM + word_score * #words
+ sil_score * #<SIL> segments`` (plus ``unk_score`` per unknown word). ``sil_score`` is added to
the ``<SIL>`` column of the emissions rather than passed to flashlight, whose ``silScore`` with
silence as the blank would act only at word boundaries and only when positive.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from flashlight.lib.text.decoder import (
    CriterionType,
    LexiconDecoderOptions,
    LexiconFreeDecoderOptions,
    SmearingMode,
    Trie,
)
from flashlight.lib.text.decoder import LexiconDecoder as _FlLexiconDecoder
from flashlight.lib.text.decoder import LexiconFreeDecoder as _FlLexiconFreeDecoder
from flashlight.lib.text.decoder.kenlm import KenLM as _FlKenLM
from flashlight.lib.text.dictionary import Dictionary
from tqdm import tqdm

from unsup_asr.io import atomic_write_text
from unsup_asr.text.lexicon import Lexicon
from unsup_asr.text.lm import KenLM, build_lm
from unsup_asr.text.phonemize import SIL

logger = logging.getLogger(__name__)

UNK = "<unk>"
"""Word emitted for an unknown word (only when ``unk_score`` is finite)."""
_EMISSION_FLOOR = -1.0e4
"""Log-probabilities are clipped to this floor (nats) so ``-inf`` never meets ``-inf`` in a sum."""


def _check_beam(name: str, beam_size: int, beam_size_token: int | None, beam_threshold: float) -> None:
    if beam_size < 1:
        raise ValueError(f"{name}.beam_size={beam_size} must be >= 1")
    if beam_size_token is not None and beam_size_token < 1:
        raise ValueError(f"{name}.beam_size_token={beam_size_token} must be >= 1 or None (all phones)")
    if not beam_threshold > 0 or not math.isfinite(beam_threshold):
        raise ValueError(f"{name}.beam_threshold={beam_threshold} must be a finite number > 0")


@dataclass(kw_only=True)
class PhoneLMDecoderConfig:
    """Options of :class:`PhoneLMDecoder` (and the beam options shared with :class:`LexiconDecoderConfig`)."""

    lm_weight: float = 1.0
    """Weight of the LM's log10 probability (>= 0)."""
    sil_score: float = 0.0
    """Score added to ``<SIL>`` in every segment (negative values discourage silence)."""
    beam_size: int = 50
    """Hypotheses kept after each segment."""
    beam_size_token: int | None = None
    """Best-scoring phones tried per segment; ``None`` tries all ``V``."""
    beam_threshold: float = 25.0
    """Hypotheses scoring this far below the best are pruned."""
    log_add: bool = False
    """Merge equal hypotheses with log-add instead of max."""
    silence: str = SIL
    """Silence token of the vocabulary (the CTC blank, and the word separator of the lexicon decoder)."""
    progress: bool = True
    """Show a tqdm progress bar over utterances."""

    def validate(self) -> None:
        """Raise ValueError on an invalid configuration."""
        name = type(self).__name__
        if not math.isfinite(self.lm_weight) or self.lm_weight < 0:
            raise ValueError(f"{name}.lm_weight={self.lm_weight} must be a finite number >= 0")
        if not math.isfinite(self.sil_score):
            raise ValueError(f"{name}.sil_score={self.sil_score} must be finite")
        _check_beam(name, self.beam_size, self.beam_size_token, self.beam_threshold)
        if not self.silence:
            raise ValueError(f"{name}.silence must be a non-empty token, e.g. '<SIL>'")


@dataclass(kw_only=True)
class LexiconDecoderConfig(PhoneLMDecoderConfig):
    """Options of :class:`LexiconDecoder` (scores in the units of the module docstring). With a word
    LM, segments are few per word, so ``lm_weight`` values of frame-level CTC decoding (2 and more)
    let the LM delete phones as silence; tune it with :mod:`unsup_asr.decode.tuning`."""

    word_score: float = 0.0
    """Score added per emitted word (negative values favour fewer, longer words)."""
    unk_score: float = -math.inf
    """Score of emitting ``<unk>`` for a phone string outside the lexicon; ``-inf`` disables it."""

    def validate(self) -> None:
        """Raise ValueError on an invalid configuration."""
        super().validate()
        if not math.isfinite(self.word_score):
            raise ValueError(f"LexiconDecoderConfig.word_score={self.word_score} must be finite")
        if math.isnan(self.unk_score) or self.unk_score == math.inf:
            raise ValueError(f"LexiconDecoderConfig.unk_score={self.unk_score} must be finite or -inf")


@dataclass(frozen=True)
class WordHypothesis:
    """Best path of one utterance."""

    words: list[str]
    """Decoded words (``<unk>`` for unknown words)."""
    phones: list[str]
    """Phones of the decoded words along the path (repeats merged, ``<SIL>`` removed)."""
    score: float
    """Total path score (emissions + weighted LM + word/sil/unk scores)."""
    am_score: float
    """Sum of the path's emission log-probabilities (nats; ``sil_score`` included on silence segments)."""
    lm_score: float
    """Unweighted LM log10 probability of the words, ``</s>`` included."""


def _vocab_index(vocab: Sequence[str], silence: str) -> tuple[list[str], int]:
    tokens = list(vocab)
    if len(set(tokens)) != len(tokens):
        raise ValueError("the phone vocabulary has repeated tokens: pass the generator's vocab.txt as is")
    if silence not in tokens:
        raise ValueError(f"silence token {silence!r} is not in the vocabulary ({len(tokens)} tokens): "
                         "the decoders need it as the CTC blank")
    return tokens, tokens.index(silence)


def _emissions(log_probs: np.ndarray, num_tokens: int, sil: int, sil_score: float) -> np.ndarray:
    """Validated ``(S, V)`` float32 C-contiguous copy, clipped, with ``sil_score`` added to silence."""
    if log_probs.ndim != 2 or log_probs.shape[1] != num_tokens:
        raise ValueError(f"log_probs must have shape (S, V={num_tokens}) to match the vocabulary, "
                         f"got {log_probs.shape}")
    if np.isnan(log_probs).any():
        raise ValueError("log_probs contain NaN: the generator diverged; pick an earlier checkpoint")
    em = np.ascontiguousarray(np.maximum(log_probs, _EMISSION_FLOOR), dtype=np.float32)
    if sil_score:
        em[:, sil] += np.float32(sil_score)
    return em


def _collapse(tokens: Sequence[int], vocab: Sequence[str], sil: int) -> list[str]:
    """CTC collapse of a frame-level token path: merge repeats, then drop silence."""
    out: list[str] = []
    prev = -1
    for tok in tokens:
        if tok != prev and tok != sil:
            out.append(vocab[tok])
        prev = tok
    return out


class LexiconDecoder:
    """Word decoder: lexicon trie over the phone vocabulary + KenLM word n-gram (flashlight).

    Words of ``lexicon`` absent from the word LM's vocabulary are left out (KenLM would score them
    as ``<unk>``), as are pronunciations using a phone outside ``vocab``; both are counted in
    :attr:`num_skipped_words` and :attr:`num_skipped_pronunciations`.
    """

    def __init__(
        self,
        lexicon: Lexicon,
        word_lm: str | PathLike[str],
        vocab: Sequence[str],
        config: LexiconDecoderConfig | None = None,
    ) -> None:
        """Build the trie and load the LM.

        Args:
            lexicon: word -> pronunciations in the phones of ``vocab``.
            word_lm: KenLM word model (``.bin`` or ``.arpa``), e.g. from :func:`build_word_lm`.
            vocab: the ``V`` generator outputs, in order, including the silence token.
            config: decoding options.
        """
        self.config = config or LexiconDecoderConfig()
        self.config.validate()
        self.vocab, self._sil = _vocab_index(vocab, self.config.silence)
        lm_vocab = KenLM(Path(word_lm))
        index = {p: i for i, p in enumerate(self.vocab)}
        self.num_skipped_words = sum(1 for w in lexicon if w not in lm_vocab)
        self.words = [w for w in lexicon if w in lm_vocab and w != UNK]
        if not self.words:
            raise ValueError(f"no lexicon word is in the word LM {word_lm}: build both from the same text")
        self._unk = len(self.words)
        self._lm = _FlKenLM(str(word_lm), Dictionary([*self.words, UNK]))
        self._trie = Trie(len(self.vocab), self._sil)
        start = self._lm.start(False)
        self.num_skipped_pronunciations = 0
        usable = 0
        for label, word in enumerate(self.words):
            unigram = self._lm.score(start, label)[1]
            for pron in lexicon[word]:
                if any(p not in index or p == self.config.silence for p in pron):
                    self.num_skipped_pronunciations += 1
                    continue
                ids = [i for j, i in enumerate(index[p] for p in pron) if j == 0 or pron[j - 1] != pron[j]]
                self._trie.insert(ids, label, unigram)
                self._trie.insert([*ids, ids[-1]], label, unigram)  # absorbs repeats of the last phone
                usable += 1
        if not usable:
            raise ValueError(f"no pronunciation of the lexicon uses only phones of the vocabulary "
                             f"{self.vocab[:10]}...: lexicon and generator must share one phone set "
                             "(mode 'ipa' vs 'arpabet')")
        self._trie.smear(SmearingMode.MAX)
        if self.num_skipped_words or self.num_skipped_pronunciations:
            logger.warning("lexicon decoder: %d words not in the LM and %d pronunciations with unknown phones left out",
                           self.num_skipped_words, self.num_skipped_pronunciations)

    def with_options(self, **changes: Any) -> LexiconDecoder:
        """A decoder sharing this one's trie and LM, with ``changes`` applied to its config."""
        new = copy.copy(self)
        new.config = dataclasses.replace(self.config, **changes)
        new.config.validate()
        return new

    def _flashlight(self) -> Any:
        cfg = self.config
        options = LexiconDecoderOptions(
            beam_size=cfg.beam_size,
            beam_size_token=cfg.beam_size_token or len(self.vocab),
            beam_threshold=cfg.beam_threshold,
            lm_weight=cfg.lm_weight,
            word_score=cfg.word_score,
            unk_score=cfg.unk_score,
            sil_score=0.0,
            log_add=cfg.log_add,
            criterion_type=CriterionType.CTC,
        )
        return _FlLexiconDecoder(options, self._trie, self._lm, self._sil, self._sil, self._unk, [], False)

    def _hypothesis(self, result: Any) -> WordHypothesis:
        tokens, labels = list(result.tokens), list(result.words)
        words: list[str] = []
        phones: list[str] = []
        current: list[str] = []
        prev = -1
        for t in range(1, len(tokens) - 1):  # tokens[0] is the start state, tokens[-1] the end of sentence
            if tokens[t] != prev and tokens[t] != self._sil:
                current.append(self.vocab[tokens[t]])
            prev = tokens[t]
            if labels[t] >= 0:
                words.append(UNK if labels[t] == self._unk else self.words[labels[t]])
                phones.extend(current)
                current = []
        return WordHypothesis(words=words, phones=phones, score=float(result.score),
                              am_score=float(result.emittingModelScore), lm_score=float(result.lmScore))

    def decode(self, log_probs: Sequence[np.ndarray], *, progress: bool | None = None) -> list[WordHypothesis]:
        """Best word hypothesis per utterance.

        Args:
            log_probs: per utterance, ``(S_i, V)`` natural-log phone probabilities of its segments.
            progress: show a progress bar (default: ``config.progress``).
        """
        decoder = self._flashlight()
        out: list[WordHypothesis] = []
        show = self.config.progress if progress is None else progress
        for lp in tqdm(log_probs, desc="lexicon decode", unit="utt", disable=not show, leave=False):
            em = _emissions(np.asarray(lp), len(self.vocab), self._sil, self.config.sil_score)
            results = decoder.decode(em.ctypes.data, em.shape[0], em.shape[1]) if len(em) else []
            out.append(self._hypothesis(results[0]) if results else WordHypothesis(
                words=[], phones=[], score=-math.inf, am_score=0.0, lm_score=0.0))
        return out

    def __call__(self, log_probs: Sequence[np.ndarray]) -> list[list[str]]:
        """Decoded words per utterance (see :meth:`decode`)."""
        return [h.words for h in self.decode(log_probs)]


class PhoneLMDecoder:
    """Lexicon-free phone decoder with a KenLM phone n-gram (flashlight's LexiconFreeDecoder)."""

    def __init__(
        self, phone_lm: str | PathLike[str], vocab: Sequence[str], config: PhoneLMDecoderConfig | None = None
    ) -> None:
        """Load the LM.

        Args:
            phone_lm: KenLM phone model trained on silence-free phone text (``lm.phn.o<N>.bin``).
            vocab: the ``V`` generator outputs, in order, including the silence token.
            config: decoding options.
        """
        self.config = config or PhoneLMDecoderConfig()
        self.config.validate()
        self.vocab, self._sil = _vocab_index(vocab, self.config.silence)
        lm_vocab = KenLM(Path(phone_lm))
        unknown = [p for p in self.vocab if p != self.config.silence and p not in lm_vocab]
        if len(unknown) == len(self.vocab) - 1:
            raise ValueError(f"no phone of the vocabulary is in the phone LM {phone_lm}: build it from the same "
                             "phone set as the generator")
        if unknown:
            logger.warning("phones missing from the phone LM (scored as <unk>): %s", unknown[:10])
        self._lm = _FlKenLM(str(phone_lm), Dictionary(self.vocab))

    def decode(self, log_probs: Sequence[np.ndarray], *, progress: bool | None = None) -> list[list[str]]:
        """Best phone sequence per utterance (repeats merged, silence removed, as Viterbi's output).

        Args:
            log_probs: per utterance, ``(S_i, V)`` natural-log phone probabilities of its segments.
            progress: show a progress bar (default: ``config.progress``).
        """
        cfg = self.config
        decoder = self._decoder()
        out: list[list[str]] = []
        show = cfg.progress if progress is None else progress
        for lp in tqdm(log_probs, desc="phone-LM decode", unit="utt", disable=not show, leave=False):
            em = _emissions(np.asarray(lp), len(self.vocab), self._sil, cfg.sil_score)
            results = decoder.decode(em.ctypes.data, em.shape[0], em.shape[1]) if len(em) else []
            out.append(_collapse(list(results[0].tokens)[1:-1], self.vocab, self._sil) if results else [])
        return out

    def _decoder(self) -> Any:
        cfg = self.config
        options = LexiconFreeDecoderOptions(
            beam_size=cfg.beam_size,
            beam_size_token=cfg.beam_size_token or len(self.vocab),
            beam_threshold=cfg.beam_threshold,
            lm_weight=cfg.lm_weight,
            sil_score=0.0,
            log_add=cfg.log_add,
            criterion_type=CriterionType.CTC,
        )
        return _FlLexiconFreeDecoder(options, self._lm, self._sil, self._sil, [])

    def decode_paths(self, log_probs: Sequence[np.ndarray], *, progress: bool | None = None) -> list[np.ndarray]:
        """The best path's token per position (segment or frame), ``(S_i,)`` int64 ids into the
        vocabulary, before repeats are merged: the LM-decoded labels self-training learns from."""
        decoder = self._decoder()
        out: list[np.ndarray] = []
        show = self.config.progress if progress is None else progress
        for lp in tqdm(log_probs, desc="phone-LM paths", unit="utt", disable=not show, leave=False):
            em = _emissions(np.asarray(lp), len(self.vocab), self._sil, self.config.sil_score)
            results = decoder.decode(em.ctypes.data, em.shape[0], em.shape[1]) if len(em) else []
            tokens = np.asarray(list(results[0].tokens)[1:-1], dtype=np.int64) if results else np.zeros(0, np.int64)
            if len(tokens) != len(em):
                raise RuntimeError(f"flashlight returned a path of {len(tokens)} tokens for {len(em)} positions")
            out.append(tokens)
        return out

    def __call__(self, log_probs: Sequence[np.ndarray]) -> list[list[str]]:
        """Decoded phones per utterance (see :meth:`decode`)."""
        return self.decode(log_probs)


def build_word_lm(sentences: Sequence[str], out_prefix: str | PathLike[str], *, order: int = 4) -> Path:
    """Build a KenLM word n-gram from normalised sentences (one per item, words space-separated).

    Writes ``<out_prefix>.txt`` (only when its content changes, so :func:`unsup_asr.text.lm.build_lm`
    can skip an up-to-date model), then ``<out_prefix>.arpa`` and ``<out_prefix>.bin``.

    Returns:
        Path of the binary model ``<out_prefix>.bin``.
    """
    lines = [" ".join(s.split()) for s in sentences if s.strip()]
    if not lines:
        raise ValueError("no sentence to build the word LM from: normalise the text first")
    prefix = Path(out_prefix)
    text_path = prefix.with_name(prefix.name + ".txt")
    text = "\n".join(lines) + "\n"
    if not text_path.is_file() or text_path.read_text(encoding="utf-8") != text:
        atomic_write_text(text_path, text)
    return build_lm(text_path, prefix, order=order)
