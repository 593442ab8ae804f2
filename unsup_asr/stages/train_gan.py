"""``uasr train_gan``: the old name of the learn stage, kept so that old commands keep working.

It runs :mod:`unsup_asr.stages.learn` with the configured learner (``learner=gan`` is the schema's
default; old ``gan.*`` settings are read as ``learner.*`` settings of the GAN, see
:func:`unsup_asr.cli.load_config`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from unsup_asr.config import RunConfig
from unsup_asr.stages import learn

logger = logging.getLogger(__name__)


def run(cfg: RunConfig) -> Path:
    if cfg.learner.name != "gan":
        logger.info("[train_gan] train_gan is the old name of the learn stage: running learner=%s", cfg.learner.name)
    return learn.run(cfg)
