"""The ``uasr`` command line: ``uasr <stage> [--out DIR] [key=value ...]``.

Stages: prepare_data, extract_features, prepare_text, segment, learn, self_train, decode, score
(``train_gan`` is the old name of ``learn``); ``all`` runs them in order (for a recipe: ``uasr all
--config-dir recipes/<name>/conf``) and ``demo`` is ``all`` on the demo recipe. Configuration is
hydra's: the typed :class:`~unsup_asr.config.RunConfig` schema, optional recipe YAML
(``--config-dir recipes/<name>/conf``), and ``key=value`` overrides such as
``learner=match learner.restarts=16 segmenter=kmeans_join segmenter.num_clusters=64``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path

from hydra import compose, initialize, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from unsup_asr.config import RunConfig, apply_device, store_configs
from unsup_asr.stages import ALIASES, STAGES

logger = logging.getLogger(__name__)

TOOLS = {
    "ssl-pretrain": "unsup_asr.ssl.pretrain",
    "rl-iterate": "unsup_asr.stages.rl_iterate",
    "refine": "unsup_asr.stages.refine",
}
"""Commands beyond the pipeline stages: command name -> module with ``run(cfg: RunConfig)``."""
SWEEPS = {
    "sweep-layers": "unsup_asr.sweep.run:run_sweep",
    "compare-segmenters": "unsup_asr.sweep.compare:run_compare",
}
"""Commands that compose one config per job themselves (from the raw overrides): name -> function
``(overrides, config_dir, config_name)``."""
COMMANDS = [*STAGES, *ALIASES, "all", "demo", *TOOLS, *SWEEPS]
DEMO_CONF = Path(__file__).resolve().parents[1] / "recipes" / "demo" / "conf"
"""The demo recipe's config folder, used when no ``--config-dir`` is given (source checkouts)."""


def legacy_overrides(overrides: list[str]) -> list[str]:
    """``gan.KEY=VALUE`` (the GAN's settings before learners were plug-ins) -> ``+gan.KEY=VALUE``: the
    value goes to the legacy ``gan`` slot, which :func:`_merge_legacy_gan` merges into ``learner``
    when the learner is the GAN (and rejects with a clear error otherwise)."""
    out = []
    for override in overrides:
        if override.startswith("gan."):
            override = "+" + override
        out.append(override)
    return out


def _merge_legacy_gan(cfg: DictConfig, where: str) -> None:
    """Merge a recipe's old ``gan:`` block into ``learner`` (which must be the GAN), then empty it."""
    if not cfg.gan:
        return
    if cfg.learner.name != "gan":
        raise ValueError(f"{where} sets gan.* (the GAN's settings, now learner.* of learner=gan) but the run's "
                         f"learner is {cfg.learner.name!r}: use learner.* keys of that learner, or select learner=gan")
    logger.warning("%s: gan.* is the old name of learner.* (learner=gan); merging %s into learner", where,
                   OmegaConf.to_container(cfg.gan))
    cfg.learner = OmegaConf.merge(cfg.learner, cfg.gan)
    cfg.gan = {}


def load_config(overrides: list[str], config_dir: str | None = None, config_name: str = "run") -> RunConfig:
    """Compose the typed run config from the schema, an optional recipe folder and overrides.

    Old GAN settings still work: ``gan.KEY=VALUE`` overrides and a recipe's ``gan:`` block are read
    as settings of ``learner=gan`` (with a warning)."""
    store_configs()
    overrides = legacy_overrides(list(overrides))
    if config_dir is not None:
        folder = Path(config_dir).resolve()
        if not folder.is_dir():
            raise FileNotFoundError(f"config folder {folder} does not exist")
        with initialize_config_dir(config_dir=str(folder), version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=overrides)
    else:
        with initialize(config_path=None, version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=overrides)
    _merge_legacy_gan(cfg, f"config {config_name} in {config_dir or 'the schema'} with overrides {overrides}")
    run_cfg = OmegaConf.to_object(cfg)
    if not isinstance(run_cfg, RunConfig):
        raise TypeError(f"config {config_name} does not describe a RunConfig")
    run_cfg = apply_device(run_cfg)
    run_cfg.validate()
    return run_cfg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="uasr", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("command", choices=COMMANDS,
                        help="a stage; `all`: every stage then score (with --config-dir); `demo`: all on the demo; "
                             "or a tool (ssl-pretrain, rl-iterate, refine, sweep-layers, compare-segmenters)")
    parser.add_argument("--out", help="output folder (same as the override out=DIR)")
    parser.add_argument("--config-dir", help="recipe config folder (default: recipes/demo/conf)")
    parser.add_argument("--config-name", help="config name inside --config-dir (default: config)")
    parser.add_argument("--show-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument("overrides", nargs="*", help="hydra overrides key=value")
    args = parser.parse_intermixed_args(argv)
    overrides = list(args.overrides) + ([f"out={args.out}"] if args.out else [])
    config_dir, config_name = args.config_dir, args.config_name or "config"
    if config_dir is None:
        if DEMO_CONF.is_dir():
            config_dir = str(DEMO_CONF)
        else:
            config_name = args.config_name or "run"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if args.command in SWEEPS and not args.show_config:
        module_name, func = SWEEPS[args.command].split(":")
        getattr(importlib.import_module(module_name), func)(overrides, config_dir, config_name)
        return 0
    cfg = load_config(overrides, config_dir, config_name)
    if args.show_config:
        sys.stdout.write(OmegaConf.to_yaml(OmegaConf.structured(cfg)))
        return 0
    if args.command in TOOLS:
        module = importlib.import_module(TOOLS[args.command])
    else:
        module = importlib.import_module(f"unsup_asr.stages.{'demo' if args.command == 'all' else args.command}")
    module.run(cfg)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
