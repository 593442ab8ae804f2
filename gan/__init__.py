"""The learner layer (named ``gan`` for its first learner): everything that maps segments to phones
without labels, and the phone models it produces.

* :mod:`gan.learner`: the :class:`~gan.learner.Learner` interface and the ``LEARNERS`` registry
  (``learner=NAME`` on the command line);
* ``learner=gan`` (:mod:`gan.adversarial`): wav2vec-U-style GAN (generator, discriminator, losses,
  trainer, seeds);
* ``learner=match`` (:mod:`gan.match`): non-adversarial output-statistics matching;
* :mod:`gan.selftrain`: self-training students (segment and frame classifiers) on pseudo-labels;
* :mod:`gan.phone_model`: the checkpoint format every learner and student writes.

Every learner module is imported here, explicitly, so that it registers itself.
"""

from gan import adversarial, match, selftrain
from gan.checkpoint import load_generator
from gan.config import DiscriminatorConfig, GanConfig, GeneratorConfig
from gan.generator import Generator, predict_log_probs
from gan.learner import LEARNERS, Learner, LearnerInputs, LearnResult
from gan.trainer import TrainResult, train_gan

__all__ = [
    "LEARNERS",
    "DiscriminatorConfig",
    "GanConfig",
    "Generator",
    "GeneratorConfig",
    "LearnResult",
    "Learner",
    "LearnerInputs",
    "TrainResult",
    "adversarial",
    "load_generator",
    "match",
    "predict_log_probs",
    "selftrain",
    "train_gan",
]
