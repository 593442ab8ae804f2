"""Evaluation references in the run's phone set (used only by the score stage).

- An utterance with ``phones`` (the demo's espeak-ng events, TIMIT's folded ``.PHN``) is scored
  against them.
- An utterance with only a transcript gets its reference phones from the words: normalised
  (:mod:`unsup_asr.text.normalize`), then phonemised in the run's ``text.phone_set`` (CMUdict with
  espeak-ng for OOVs, or espeak-ng IPA in context) — the same route the unpaired text took.
- TIMIT references are Lee & Hon's 39 phones; with ``text.phone_set=arpabet`` the hypotheses are
  mapped with :func:`unsup_asr.text.lexicon.arpabet_to_timit39` before scoring (documented there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from unsup_asr.config import RunConfig
from unsup_asr.data.manifest import Utterance
from unsup_asr.data.sources import TIMIT_PHONE_SET
from unsup_asr.text.lexicon import LexiconConfig, arpabet_to_timit39, build_lexicon
from unsup_asr.text.normalize import normalize_sentence
from unsup_asr.text.phonemize import SIL, phonemize_words


def normalize_transcript(text: str) -> str:
    """A transcript in the normal form of the word LM and the decoded words ("" if dropped)."""
    return normalize_sentence(text) or ""


def reference_phones(cfg: RunConfig, utts: Sequence[Utterance]) -> list[list[str]]:
    """Reference phone sequence of every utterance (see the module docstring)."""
    missing = [u.id for u in utts if not u.phones and not u.text]
    if missing:
        raise ValueError(f"evaluation utterances without reference phones or transcript (e.g. {missing[:3]}): "
                         "PER needs one or the other")
    todo = [i for i, u in enumerate(utts) if not u.phones]
    refs = [list(u.phones or []) for u in utts]
    if not todo:
        return refs
    sentences = [normalize_transcript(utts[i].text or "") for i in todo]
    if cfg.text.phone_set == "ipa":
        for i, words in zip(todo, phonemize_words(sentences, language=cfg.text.language, njobs=2), strict=True):
            refs[i] = [p for w in words for p in w]
        return refs
    vocab = sorted({w for s in sentences for w in s.split()})
    lexicon, report = build_lexicon(vocab, LexiconConfig(mode="arpabet", language=cfg.text.language, njobs=2))
    if report.skipped:
        raise ValueError(f"reference words espeak-ng cannot pronounce: {report.skipped[:10]}; fix the transcripts")
    for i, sentence in zip(todo, sentences, strict=True):
        refs[i] = [p for w in sentence.split() for p in lexicon[w][0]]
    return refs


def phone_mapping(cfg: RunConfig, utts: Sequence[Utterance]) -> Callable[[str], str]:
    """How to map one output phone (``<SIL>`` included) into the references' phone set: the identity,
    or for TIMIT references :func:`~unsup_asr.text.lexicon.arpabet_to_timit39` (``<SIL>`` -> ``sil``)."""
    sets = {u.extra.get("phone_set", "") for u in utts}
    if TIMIT_PHONE_SET not in sets:
        return lambda phone: phone
    if len(sets) > 1:
        raise ValueError(f"an evaluation split mixes phone sets {sorted(sets)}: put TIMIT in its own split")
    if cfg.text.phone_set != "arpabet" and cfg.text.kind != "phones":
        raise ValueError("TIMIT references (39 phones) are scored against ARPAbet hypotheses: set "
                         "text.phone_set=arpabet (or text.kind=phones with TIMIT phone text)")
    return arpabet_to_timit39


def hypothesis_mapping(cfg: RunConfig, utts: Sequence[Utterance]) -> Callable[[list[str]], list[str]]:
    """How to map hypotheses into the references' phone set (identity unless TIMIT references)."""
    if TIMIT_PHONE_SET not in {u.extra.get("phone_set", "") for u in utts}:
        return lambda hyp: hyp
    to_ref = phone_mapping(cfg, utts)

    def to_timit(hyp: list[str]) -> list[str]:
        return [q for q in (to_ref(p) for p in hyp if p != SIL) if q != "sil"]

    return to_timit
