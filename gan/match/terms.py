"""Named loss terms of the matching learner: each compares one statistic of the generator's outputs
with the same statistic of the unpaired text.

A term is a function ``(out, text, cfg) -> (R,) tensor``: ``out`` gives the *expected* statistics of
the outputs of ``R`` restarts and ``text`` the text's (both :class:`gan.match.stats.Statistics`),
``cfg`` the :class:`~gan.match.config.MatchConfig`. The config weighs terms by name
(``learner.terms={bigram: 1, trigram: 1}``). A new objective is one decorated function here (or in
any module imported before the config is validated)::

    @register_term("fourgram_skip")
    def fourgram_skip(out, text, cfg):
        return cross_entropy(text.skipgram(5), out.skipgram(5), dims=2)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch


class Statistics(Protocol):
    """Distributions over phone ids (``V`` = vocabulary size); the outputs' carry a leading restart
    axis ``R``, the text's do not."""

    def ngram(self, n: int) -> torch.Tensor:
        """n-gram distribution ``(..., V, ..., V)`` (n axes), n in 1..3."""

    def skipgram(self, d: int) -> torch.Tensor:
        """Distribution ``(..., V, V)`` of pairs of tokens ``d`` positions apart."""

    def positional(self) -> torch.Tensor:
        """Unigram distribution at each of the first and last ``cfg.positions`` positions ``(..., 2J, V)``."""


MatchTerm = Callable[[Statistics, Statistics, Any], torch.Tensor]
MATCH_TERMS: dict[str, MatchTerm] = {}
"""Registered terms: name -> function."""

EPS = 1e-10


def register_term(name: str) -> Callable[[MatchTerm], MatchTerm]:
    """Decorator: register a loss term under ``name``."""

    def deco(fn: MatchTerm) -> MatchTerm:
        if name in MATCH_TERMS and MATCH_TERMS[name] is not fn:
            raise ValueError(f"match term {name!r} is already registered")
        MATCH_TERMS[name] = fn
        return fn

    return deco


def cross_entropy(target: torch.Tensor, predicted: torch.Tensor, *, dims: int) -> torch.Tensor:
    """``-sum target * log predicted`` over the last ``dims`` axes (EODM's loss; lowest when the
    predicted distribution puts its mass where the target's is)."""
    return -(target * (predicted + EPS).log()).sum(dim=tuple(range(-dims, 0)))


@register_term("unigram")
def unigram(out: Statistics, text: Statistics, cfg: Any) -> torch.Tensor:
    """Phone frequencies."""
    return cross_entropy(text.ngram(1), out.ngram(1), dims=1)


@register_term("bigram")
def bigram(out: Statistics, text: Statistics, cfg: Any) -> torch.Tensor:
    """Adjacent phone pairs."""
    return cross_entropy(text.ngram(2), out.ngram(2), dims=2)


@register_term("trigram")
def trigram(out: Statistics, text: Statistics, cfg: Any) -> torch.Tensor:
    """Phone triples: what identifies the mapping (bigrams alone leave it ambiguous, CALIBRATION.md)."""
    return cross_entropy(text.ngram(3), out.ngram(3), dims=3)


@register_term("skipgram")
def skipgram(out: Statistics, text: Statistics, cfg: Any) -> torch.Tensor:
    """Pairs ``d`` apart for each ``d`` of ``cfg.skip_distances`` (ESPUM), averaged."""
    terms = [cross_entropy(text.skipgram(d), out.skipgram(d), dims=2) for d in cfg.skip_distances]
    return torch.stack(terms).mean(0)


@register_term("positional")
def positional(out: Statistics, text: Statistics, cfg: Any) -> torch.Tensor:
    """Phone frequencies at each of the first and last ``cfg.positions`` positions (ESPUM), averaged."""
    return cross_entropy(text.positional(), out.positional(), dims=1).mean(-1)
