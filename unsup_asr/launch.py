"""``python -m unsup_asr.launch COMMAND [hydra options] [key=value ...]``: the pipeline as a ``@hydra.main``
application, so that hydra's launchers run its jobs, e.g. as a SLURM job array through the submitit launcher.

Why a second entry point: ``uasr`` composes each config itself with hydra's compose API
(:func:`unsup_asr.cli.load_config`), and ``uasr sweep-layers`` expands its sweep and runs the jobs one after the
other in its own process. Hydra's launchers (``hydra/launcher=submitit_slurm``, ``submitit_local``, ...) only
run the jobs of a ``@hydra.main`` application, so they never see ``uasr``'s. Here ``COMMAND`` is read off the
command line and everything after it is hydra's own: ``-m``, ``--config-dir``, ``--config-name``,
``hydra/launcher=...``, ``hydra.launcher.*`` and the ``key=value`` overrides of the run config.

Commands:

* a pipeline stage, ``all`` or a tool (``ssl-pretrain``, ``rl-iterate``, ``refine``): every job runs it on its
  own config. Eight extraction shards as one SLURM array (the shard that finishes last merges them)::

      python -m unsup_asr.launch extract_features -m --config-dir recipes/timit/conf \\
          hydra/launcher=submitit_slurm hydra.launcher.gpus_per_node=1 \\
          extract.device=cuda extract.world_size=8 'extract.rank=range(0,8)'

* ``sweep-layers``: ``uasr sweep-layers`` (same overrides) with its jobs run by the launcher. This process
  prepares what the jobs share (corpus, text, every requested layer in one pass:
  :func:`unsup_asr.sweep.run.prepare_shared`; extract the layers beforehand as an array job to keep the GPU work
  off this process), launches one job per combination (:func:`unsup_asr.sweep.run.run_job`: the folders and
  ``result.json`` of ``uasr sweep-layers``, so either command finds the other's finished jobs), waits for them
  and writes ``sweep.csv`` and ``sweep.png``.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import hydra
from hydra._internal.utils import get_args_parser
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from unsup_asr.cli import TOOLS, _merge_legacy_gan
from unsup_asr.config import RunConfig, store_configs
from unsup_asr.stages import ALIASES, STAGES
from unsup_asr.sweep.run import job_name, plan_sweep, prepare_shared, run_job, write_table

SWEEP = "sweep-layers"
COMMANDS = [*STAGES, *ALIASES, "all", *TOOLS, SWEEP]
USAGE = ("usage: python -m unsup_asr.launch COMMAND [-m] --config-dir recipes/<name>/conf "
         "[--config-name NAME] [hydra/launcher=submitit_slurm hydra.launcher.KEY=VALUE ...] [key=value ...]\n"
         f"COMMAND: {', '.join(COMMANDS)}")


def to_run_config(cfg: DictConfig) -> RunConfig:
    """The typed, validated run config of a job (an old ``gan:`` block merged into ``learner``, as ``uasr`` does)."""
    _merge_legacy_gan(cfg, "python -m unsup_asr.launch")
    run_cfg = OmegaConf.to_object(cfg)
    if not isinstance(run_cfg, RunConfig):
        raise TypeError("the composed config does not describe a RunConfig: start the recipe's defaults with `run`")
    run_cfg.validate()
    return run_cfg


def command_module(command: str) -> ModuleType:
    """The module whose ``run(cfg)`` a command calls (as ``uasr COMMAND`` does)."""
    if command in TOOLS:
        return importlib.import_module(TOOLS[command])
    stage = "demo" if command == "all" else ALIASES.get(command, command)
    return importlib.import_module(f"unsup_asr.stages.{stage}")


@dataclass(frozen=True)
class Task:
    """What hydra runs for every job. submitit pickles it into the cluster jobs, by reference to this module."""

    command: str
    """One of :data:`COMMANDS`."""
    swept: tuple[str, ...] = ()
    """``sweep-layers`` only: the swept keys, which name the job folders."""

    def __call__(self, cfg: DictConfig) -> str:
        if self.command != SWEEP:
            return str(command_module(self.command).run(to_run_config(cfg)))
        job = [str(o) for o in HydraConfig.get().overrides.task]
        shared_out = Path(cfg.out)
        out = shared_out / "sweep" / str(cfg.sweep.name) / job_name(job, list(self.swept))
        cfg.out = str(out)  # before conversion, as uasr sweep-layers composes each job with out=<its folder>
        run_job(to_run_config(cfg), job, shared_out)
        return str(out)


def task_overrides(overrides: list[str]) -> list[str]:
    """The overrides that set the jobs' configs, without hydra's own (``hydra/launcher=...``, ``hydra.*``)."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    return [o.input_line for o in parsed if not o.is_hydra_override() and o.input_line is not None]


def main(argv: list[str] | None = None) -> None:
    """Run ``COMMAND`` as a hydra application on ``argv`` (default: the process's arguments)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in COMMANDS:
        raise SystemExit(USAGE)
    command, rest = args[0], args[1:]
    parsed = get_args_parser().parse_args(rest)
    if parsed.config_dir is None:
        raise SystemExit("python -m unsup_asr.launch needs --config-dir recipes/<name>/conf: the recipe whose "
                         f"config every job composes\n{USAGE}")
    store_configs()
    task = Task(command)
    sweep = command == SWEEP and not (parsed.help or parsed.hydra_help or parsed.cfg or parsed.info)
    if sweep:
        if not parsed.multirun:
            raise SystemExit("sweep-layers launches one job per combination of the swept values: add -m")
        plan = plan_sweep(task_overrides(parsed.overrides), parsed.config_dir, parsed.config_name or "config")
        prepare_shared(plan)
        task = Task(command, tuple(plan.swept))
    app = hydra.main(version_base="1.3", config_path=None, config_name="config")(task)
    saved, sys.argv = sys.argv, [sys.argv[0], *rest]  # hydra.main reads its options from sys.argv
    try:
        app()
    finally:
        sys.argv = saved
    if sweep:
        write_table(plan)


if __name__ == "__main__":
    from unsup_asr.launch import main as _main  # the importable module's Task, so that submitit can pickle it

    _main()
