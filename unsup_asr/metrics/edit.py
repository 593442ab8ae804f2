"""Edit-distance error rates: phone error rate (PER) and word error rate (WER).

Errors are counted on a minimum-cost Levenshtein alignment with unit costs (rapidfuzz's
``Levenshtein.editops``). The total ``errors`` is the edit distance and is unique; how it splits
into substitutions, deletions and insertions follows rapidfuzz's choice among equal-cost
alignments (the same one jiwer 4 reports). Rates are fractions (0.25 means 25 %) and are
corpus-level: total errors over total reference length, not a mean of per-utterance rates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein


@dataclass(frozen=True)
class EditOps:
    """Edit operations turning one reference into one hypothesis."""

    substitutions: int
    """Reference tokens replaced by a different hypothesis token."""
    deletions: int
    """Reference tokens missing from the hypothesis."""
    insertions: int
    """Hypothesis tokens with no reference counterpart."""
    ref_len: int
    """Number of reference tokens."""

    @property
    def errors(self) -> int:
        """Edit distance: substitutions + deletions + insertions."""
        return self.substitutions + self.deletions + self.insertions


@dataclass(frozen=True)
class ErrorRate:
    """Corpus-level error counts and rate."""

    errors: int
    """Total edit distance over the corpus."""
    ref_len: int
    """Total number of reference tokens."""
    substitutions: int
    """Total substitutions."""
    deletions: int
    """Total deletions."""
    insertions: int
    """Total insertions."""

    @property
    def rate(self) -> float:
        """``errors / ref_len`` as a fraction (can exceed 1 with many insertions)."""
        return self.errors / self.ref_len


def edit_ops(ref: Sequence[str], hyp: Sequence[str]) -> EditOps:
    """Count substitutions, deletions and insertions between token sequences ``ref`` and ``hyp``."""
    counts = {"replace": 0, "delete": 0, "insert": 0}
    for op in Levenshtein.editops(list(ref), list(hyp)):
        counts[op.tag] += 1
    return EditOps(
        substitutions=counts["replace"],
        deletions=counts["delete"],
        insertions=counts["insert"],
        ref_len=len(ref),
    )


def error_rate(refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]]) -> ErrorRate:
    """Corpus error rate of tokenised hypotheses ``hyps`` against references ``refs`` (same order)."""
    if len(refs) != len(hyps):
        raise ValueError(
            f"got {len(refs)} references but {len(hyps)} hypotheses: pass one hypothesis per reference"
        )
    ops = [edit_ops(r, h) for r, h in zip(refs, hyps, strict=True)]
    ref_len = sum(o.ref_len for o in ops)
    if ref_len == 0:
        raise ValueError(
            f"empty references: all {len(refs)} references have no tokens, so the error rate is undefined; "
            "check that the transcripts were loaded"
        )
    return ErrorRate(
        errors=sum(o.errors for o in ops),
        ref_len=ref_len,
        substitutions=sum(o.substitutions for o in ops),
        deletions=sum(o.deletions for o in ops),
        insertions=sum(o.insertions for o in ops),
    )


def per(refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]]) -> ErrorRate:
    """Phone error rate over phone lists (silence should already be removed from both sides)."""
    return error_rate(refs, hyps)


def wer(refs: Sequence[str], hyps: Sequence[str]) -> ErrorRate:
    """Word error rate over sentences, split on whitespace."""
    return error_rate([r.split() for r in refs], [h.split() for h in hyps])
