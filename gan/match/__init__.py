"""Output-statistics matching learner (``learner=match``): see :mod:`gan.match.learner`."""

from gan.match.config import MatchConfig
from gan.match.learner import MatchLearner
from gan.match.terms import MATCH_TERMS, register_term

__all__ = ["MATCH_TERMS", "MatchConfig", "MatchLearner", "register_term"]
