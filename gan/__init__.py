"""wav2vec-U style GAN: a generator maps segment embeddings to phone distributions, trained
against a discriminator on unpaired phone text, with unsupervised checkpoint selection."""

from gan.checkpoint import load_generator
from gan.config import DiscriminatorConfig, GanConfig, GeneratorConfig
from gan.generator import Generator, predict_log_probs
from gan.trainer import TrainResult, train_gan

__all__ = [
    "DiscriminatorConfig",
    "GanConfig",
    "Generator",
    "GeneratorConfig",
    "TrainResult",
    "load_generator",
    "predict_log_probs",
    "train_gan",
]
