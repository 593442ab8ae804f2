"""Deterministic corpus splits: speaker-disjoint, sentence-disjoint or per utterance.

Every corpus preparer returns ``dict[str, list[Utterance]]`` (split name -> utterances sorted by
id). Where a corpus has no standard split, :func:`apply_split` cuts one from a
:class:`SplitConfig`:

* utterances are grouped by a key: the speaker (``by="speaker"``: no speaker in two splits), the
  normalised transcript (``by="sentence"``: no sentence text in two splits, so a held-out sentence
  is never heard in training) or the utterance id (``by="utterance"``);
* groups are ordered by ``sha1(f"{seed}:{key}")`` and cut in that order into runs of
  ``round(fraction * number_of_groups)`` groups (the last split takes the remainder).

The result depends only on the set of group keys and the seed: not on file order, the platform,
Python's hash randomisation or the number of workers. Split sizes are exact in *groups*;
utterance counts follow from the group sizes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from unsup_asr.data.manifest import Utterance

SPLIT_BY = ("speaker", "sentence", "utterance")
"""The grouping keys :func:`apply_split` accepts."""


@dataclass(kw_only=True)
class SplitConfig:
    """How to cut a corpus without a standard split into named splits."""

    fractions: dict[str, float] = field(default_factory=dict)
    """Split name -> fraction of the groups, summing to 1 (zero gives an empty split); ``{}`` keeps
    the whole corpus as one split named by the preparer (e.g. the data folder's name)."""
    by: str = "speaker"
    """Grouping key: ``speaker``, ``sentence`` (normalised transcript) or ``utterance``."""
    seed: int = 0
    """Seed mixed into the hash that orders the groups."""

    def validate(self) -> None:
        """Raise ValueError if a field is out of range."""
        if self.by not in SPLIT_BY:
            raise ValueError(f"split: by={self.by!r} must be one of {list(SPLIT_BY)}")
        validate_fractions(self.fractions, what="split.fractions")


def validate_fractions(fractions: Mapping[str, float], *, what: str) -> None:
    """Raise ValueError unless ``fractions`` maps non-empty names to values >= 0 summing to 1
    (an empty mapping is allowed: it means "no split")."""
    if not fractions:
        return
    bad = {k: v for k, v in fractions.items() if not k or not 0.0 <= float(v) <= 1.0}
    if bad:
        raise ValueError(f"{what}: {bad} must map non-empty split names to fractions in [0, 1]")
    total = sum(float(v) for v in fractions.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"{what}={dict(fractions)} sums to {total:g}; the fractions must sum to 1")


def stable_unit_hash(key: str, seed: int = 0) -> float:
    """A number in ``[0, 1)`` from ``sha1(f"{seed}:{key}")``: the same on every run and platform."""
    digest = hashlib.sha1(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


_NON_WORD = re.compile(r"[^\w']+")


def sentence_key(text: str) -> str:
    """The key under which two transcripts count as the same sentence: case-folded, punctuation
    removed (apostrophes kept), whitespace collapsed."""
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


def split_groups(keys: Iterable[str], fractions: Mapping[str, float], seed: int = 0) -> dict[str, str]:
    """Assign each distinct key to a split name.

    Keys are sorted by :func:`stable_unit_hash` (ties by the key) and cut into consecutive runs of
    ``round(fraction * n)`` keys in the order of ``fractions``; the last split takes the rest.
    """
    validate_fractions(fractions, what="fractions")
    if not fractions:
        raise ValueError("fractions is empty: give at least one split name")
    uniq = sorted(set(keys), key=lambda k: (stable_unit_hash(k, seed), k))
    n = len(uniq)
    names = list(fractions)
    out: dict[str, str] = {}
    start = 0
    cum = 0.0
    for i, name in enumerate(names):
        cum += float(fractions[name])
        stop = n if i == len(names) - 1 else min(n, round(cum * n))
        for k in uniq[start:stop]:
            out[k] = name
        start = max(start, stop)
    return out


def group_key(by: str) -> Callable[[Utterance], str]:
    """The function giving an utterance's group key for ``by`` (see :data:`SPLIT_BY`)."""
    if by == "speaker":
        return lambda u: u.speaker
    if by == "utterance":
        return lambda u: u.id

    def _sentence(u: Utterance) -> str:
        if u.text is None:
            raise ValueError(f"utterance {u.id} has no transcript; a split by sentence needs every transcript")
        return sentence_key(u.text)

    if by == "sentence":
        return _sentence
    raise ValueError(f"by={by!r} must be one of {list(SPLIT_BY)}")


def split_by(
    utts: Iterable[Utterance], fractions: Mapping[str, float], *, by: str = "speaker", seed: int = 0
) -> dict[str, list[Utterance]]:
    """Split ``utts`` into ``fractions``' splits keeping each group (``by``) in one split.

    Every name of ``fractions`` appears in the result, possibly with an empty list.
    """
    utts = list(utts)
    key = group_key(by)
    keys = [key(u) for u in utts]
    assign = split_groups(keys, fractions, seed)
    out: dict[str, list[Utterance]] = {name: [] for name in fractions}
    for u, k in zip(utts, keys, strict=True):
        out[assign[k]].append(u)
    return sort_splits(out)


def apply_split(utts: Iterable[Utterance], cfg: SplitConfig, *, default_name: str) -> dict[str, list[Utterance]]:
    """Split by ``cfg``; with ``cfg.fractions == {}`` return one split named ``default_name``."""
    cfg.validate()
    if not cfg.fractions:
        return sort_splits({default_name: list(utts)})
    return split_by(utts, cfg.fractions, by=cfg.by, seed=cfg.seed)


def sort_splits(splits: Mapping[str, list[Utterance]]) -> dict[str, list[Utterance]]:
    """Sort each split by id and check that no id occurs twice in the whole corpus."""
    seen: dict[str, str] = {}
    out: dict[str, list[Utterance]] = {}
    for name, utts in splits.items():
        for u in utts:
            if u.id in seen:
                raise ValueError(
                    f"utterance id {u.id!r} occurs twice (splits {seen[u.id]!r} and {name!r}, audio {u.audio}); "
                    "ids must be unique within a corpus"
                )
            seen[u.id] = name
        out[name] = sorted(utts, key=lambda u: u.id)
    return out


def describe_splits(splits: Mapping[str, list[Utterance]]) -> str:
    """One line per split: utterances, speakers and hours, or ``(empty)``."""
    lines = []
    for name, utts in splits.items():
        if not utts:
            lines.append(f"{name}: (empty)")
            continue
        hours = sum(u.duration_s for u in utts) / 3600
        speakers = len({u.speaker for u in utts})
        lines.append(f"{name}: {len(utts)} utterances, {speakers} speakers, {hours:.3f} h")
    return "\n".join(lines)
