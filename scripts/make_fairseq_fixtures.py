"""Tiny original-fairseq wav2vec 2.0 / HuBERT checkpoints and fairseq's own layer outputs.

Writes ``tests/fixtures/fairseq/`` for ``tests/unit/features/test_fairseq_checkpoints.py``, which
loads these files through unsup-asr's featurizers and compares every layer with fairseq's outputs,
without fairseq installed. fairseq is **never** a dependency of unsup-asr: run this script with a
separate environment, outside the repository::

    python3.11 -m venv /work/fairseq_env
    /work/fairseq_env/bin/pip install torch==2.9.1
    /work/fairseq_env/bin/pip install setuptools wheel cython numpy
    /work/fairseq_env/bin/pip install fairseq-fixed==0.12.3.1 --no-build-isolation
    # fairseq's requirements pull in the newest torch/torchaudio; put back the torch it was built against:
    /work/fairseq_env/bin/pip install torch==2.9.1 torchaudio==2.9.1
    OMP_NUM_THREADS=1 /work/fairseq_env/bin/python scripts/make_fairseq_fixtures.py

Models (random weights, standard stride-320 CNN with narrow channels, 2 transformer blocks, small
dims; every one differs in its dims so that the tests prove the architecture is read from the file):

==============================  ===========================================================
``wav2vec2_base``               post-LN, GroupNorm CNN, no conv bias, ``normalize: false``
``wav2vec2_large_lv60k``        pre-LN (``layer_norm_first``), LayerNorm CNN with bias, odd
                                ``conv_pos``, ``normalize: true``
``wav2vec2_large_lv60k_ctc``    CTC fine-tuned from ``wav2vec2_large_lv60k`` (encoder under
                                ``w2v_encoder.w2v_model.``; its weights moved off the
                                pre-trained ones)
``hubert_base``                 HuBERT in ``hubert_base_ls960.pt``'s layout (post-LN,
                                GroupNorm CNN, k-means label embeddings)
==============================  ===========================================================

Each is written in the three formats fairseq has used:

* ``<model>.cfg_dict.pt``: fairseq's trainer (``Trainer.state_dict``): ``cfg`` is a plain dict
  (``OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)``), ``args`` is ``None``;
* ``<model>.cfg_dictconfig.pt``: ``cfg`` is an omegaconf ``DictConfig`` (older fairseq releases,
  e.g. ``wav2vec_vox_new.pt`` and ``hubert_base_ls960.pt``);
* ``<model>.args_namespace.pt``: legacy ``args``, one flat ``argparse.Namespace`` (e.g.
  ``wav2vec_small.pt``; a fine-tuned one nests the pre-training ``w2v_args`` as a Namespace). Some
  fields that old releases did not have are left out, so readers must fall back to fairseq's
  defaults as fairseq does.

Every file is loaded back with fairseq's own ``checkpoint_utils.load_model_ensemble_and_task``
(needs ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` with torch >= 2.6), and the model fairseq builds from
it computes ``<model>.<format>.npz`` on one fixed waveform:

* ``wav``: the raw waveform (16 kHz); the model got it layer-normalised over time when the
  checkpoint's task has ``normalize: true`` (as fairseq's audio datasets do), else as it is;
* ``layer_0``: the input of the first transformer block (a forward pre-hook on it);
* ``layer_k`` (k >= 1): ``extract_features(source, None, layer=k-1)["x"]`` (wav2vec 2.0) or
  ``extract_features(source, None, output_layer=k)[0]`` (HuBERT): the output of block k;
* ``final``: the encoder output with no layer given (for pre-LN models the last block's output
  after the encoder's final LayerNorm; for post-LN models equal to the last layer);
* ``meta``: a JSON string (model, format, kind, fine_tuned, normalize, num_layers, dim, versions).

The script checks that the three formats of one model give identical outputs and that every file
round-trips through fairseq's loader with the exact weights it was saved with.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # fairseq pickles its configs

import numpy as np
import torch
import torch.nn.functional as F

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "fairseq"
FORMATS = ("cfg_dict", "cfg_dictconfig", "args_namespace")
NUM_SAMPLES = 8_000  # 0.5 s -> 24 frames
KM_CLASSES = 20
CONV = "[({c}, 10, 5)] + [({c}, 3, 2)] * 4 + [({c}, 2, 2)] * 2"
NEW_FIELDS = (
    "layer_type", "pos_conv_depth", "required_seq_len_multiple", "crop_seq_to_multiple",
    "depthwise_conv_kernel_size", "attn_type", "pos_enc_type", "adp_num", "adp_dim", "adp_act_fn", "adp_trf_idx",
    "checkpoint_activations", "require_same_masks", "mask_dropout", "mask_channel_before",
)
"""Model fields left out of the legacy Namespace files (added to fairseq after the Namespace era)."""

MODELS: dict[str, list[str]] = {
    "wav2vec2_base": [
        "--task", "audio_pretraining", "--arch", "wav2vec2", "--criterion", "wav2vec",
        "--extractor-mode", "default", "--conv-feature-layers", CONV.format(c=16),
        "--encoder-layers", "2", "--encoder-embed-dim", "32", "--encoder-ffn-embed-dim", "48",
        "--encoder-attention-heads", "4", "--conv-pos", "16", "--conv-pos-groups", "4",
        "--final-dim", "16", "--latent-vars", "8", "--latent-groups", "2", "--quantize-targets",
    ],
    "wav2vec2_large_lv60k": [
        "--task", "audio_pretraining", "--arch", "wav2vec2", "--criterion", "wav2vec", "--normalize",
        "--extractor-mode", "layer_norm", "--conv-bias", "--layer-norm-first",
        "--conv-feature-layers", CONV.format(c=12),
        "--encoder-layers", "2", "--encoder-embed-dim", "24", "--encoder-ffn-embed-dim", "40",
        "--encoder-attention-heads", "3", "--conv-pos", "15", "--conv-pos-groups", "3",
        "--final-dim", "16", "--latent-vars", "8", "--latent-groups", "2", "--quantize-targets",
    ],
    "wav2vec2_large_lv60k_ctc": [
        "--task", "audio_finetuning", "--arch", "wav2vec_ctc", "--criterion", "ctc", "--normalize",
        "--labels", "ltr", "--w2v-path", "{pretrained}",
    ],
    "hubert_base": [
        "--task", "hubert_pretraining", "--arch", "hubert", "--criterion", "hubert",
        "--labels", '["km"]', "--label-dir", "{data}", "--label-rate", "50",
        "--extractor-mode", "default", "--conv-feature-layers", CONV.format(c=10),
        "--encoder-layers", "2", "--encoder-embed-dim", "20", "--encoder-ffn-embed-dim", "36",
        "--encoder-attention-heads", "2", "--conv-pos", "12", "--conv-pos-groups", "2", "--final-dim", "8",
    ],
}


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """fairseq and hydra print a lot; keep only errors."""
    logging.disable(logging.WARNING)
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


def build_cfg(cli: list[str], data: Path) -> Any:
    """fairseq's full config (a DictConfig) from command-line arguments, as fairseq builds it."""
    from fairseq import options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [str(data), *cli])
    with quiet():
        return convert_namespace_to_omegaconf(args)


def build_model(cfg: Any) -> torch.nn.Module:
    from fairseq import tasks

    with quiet():
        task = tasks.setup_task(cfg.task)
        return task.build_model(cfg.model).eval()


def legacy_args(cfg: Any, drop: tuple[str, ...] = NEW_FIELDS) -> argparse.Namespace:
    """One flat Namespace as fairseq wrote before its hydra configs (``args``)."""
    from omegaconf import OmegaConf

    flat: dict[str, Any] = {}
    named = {"task": "task", "model": "arch", "criterion": "criterion", "optimizer": "optimizer",
             "lr_scheduler": "lr_scheduler"}
    for section, value in OmegaConf.to_container(cfg, resolve=True, enum_to_str=True).items():
        if not isinstance(value, dict):
            continue
        for key, v in value.items():
            if key == "_name":
                if section in named:
                    flat[named[section]] = v
            elif key == "w2v_args" and isinstance(v, dict):
                flat[key] = legacy_args(OmegaConf.create(v), drop)
            elif not isinstance(v, dict) and not (section == "model" and key in drop):  # no nested configs then
                flat.setdefault(key, v)
    return argparse.Namespace(**flat)


def save(model: torch.nn.Module, cfg: Any, fmt: str, path: Path) -> None:
    """Write ``model`` with ``cfg`` the way fairseq's trainer (or an older fairseq) did."""
    from fairseq import checkpoint_utils
    from omegaconf import OmegaConf

    history = [{"criterion_name": "Criterion", "optimizer_name": "FairseqAdam", "lr_scheduler_state": {"best": None},
                "num_updates": 0}]
    extra = {"metrics": {}, "previous_training_time": 0.0}
    state: dict[str, Any]
    if fmt == "cfg_dict":  # fairseq.trainer.Trainer.state_dict (no optimizer state)
        state = {"args": None, "cfg": OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
                 "model": model.state_dict(), "criterion": None, "optimizer_history": history, "task_state": {},
                 "extra_state": extra}
    elif fmt == "cfg_dictconfig":  # the DictConfig that fairseq's own loader holds (load_checkpoint_to_cpu)
        container = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        state = {"args": None, "cfg": OmegaConf.create(container, flags={"allow_objects": True}),
                 "model": model.state_dict(), "optimizer_history": history,
                 "extra_state": extra}
    else:
        state = {"args": legacy_args(cfg), "model": model.state_dict(), "optimizer_history": history,
                 "extra_state": extra}
    checkpoint_utils.torch_persistent_save(state, str(path))


def load_with_fairseq(path: Path, data: Path) -> tuple[torch.nn.Module, Any]:
    """The model and config fairseq's own loader makes of ``path``.

    fairseq 0.12.3 with hydra 1.3 cannot compose a legacy ``args`` whose ``w2v_args`` is a nested
    Namespace (``ConfigCompositionException: Could not override 'model.w2v_args.common...'``), so
    for such a file the outer args are converted without it and ``Wav2VecEncoder`` converts the
    nested Namespace itself (``convert_namespace_to_omegaconf``, as it does for Namespaces)."""
    from fairseq import checkpoint_utils, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf, omegaconf_no_object_check

    state = torch.load(path, map_location="cpu", weights_only=False)
    args = state.get("args")
    with quiet():
        if not isinstance(getattr(args, "w2v_args", None), argparse.Namespace):
            models, cfg, _ = checkpoint_utils.load_model_ensemble_and_task(
                [str(path)], arg_overrides={"data": str(data), "label_dir": str(data)}
            )
            return models[0].eval(), cfg
        outer = argparse.Namespace(**{**vars(args), "w2v_args": None, "data": str(data)})
        cfg = convert_namespace_to_omegaconf(outer)
        with omegaconf_no_object_check():
            cfg.model.w2v_args = args.w2v_args
        task = tasks.setup_task(cfg.task)
        model = task.build_model(cfg.model)
        model.load_state_dict(state["model"], strict=True, model_cfg=cfg.model)
    return model.eval(), cfg


def encoder_model(model: torch.nn.Module) -> torch.nn.Module:
    """The wav2vec 2.0 / HuBERT model inside a fine-tuned (CTC) model, or the model itself."""
    inner = getattr(getattr(model, "w2v_encoder", None), "w2v_model", None)
    return inner if inner is not None else model


@torch.inference_mode()
def fairseq_layers(model: torch.nn.Module, source: torch.Tensor) -> dict[str, np.ndarray]:
    """fairseq's layer outputs on one waveform (see the module docstring)."""
    from fairseq.models.hubert import HubertModel

    m = encoder_model(model)
    hubert = isinstance(m, HubertModel)

    def run(k: int | None) -> torch.Tensor:
        if hubert:
            return m.extract_features(source, None, mask=False, output_layer=k)[0]
        return m.extract_features(source, None, mask=False, layer=None if k is None else k - 1)["x"]

    grabbed: list[torch.Tensor] = []
    hook = m.encoder.layers[0].register_forward_pre_hook(lambda _, args: grabbed.append(args[0].transpose(0, 1)))
    try:
        run(1)
    finally:
        hook.remove()
    out = {"layer_0": grabbed[0]}
    for k in range(1, len(m.encoder.layers) + 1):
        out[f"layer_{k}"] = run(k)
    out["final"] = run(None)
    return {k: v[0].float().numpy() for k, v in out.items()}


def waveform() -> torch.Tensor:
    """A fixed 0.5 s test signal: a few harmonics with vibrato, noise and an onset."""
    g = torch.Generator().manual_seed(1234)
    t = torch.arange(NUM_SAMPLES) / 16_000
    f0 = 140 + 20 * torch.sin(2 * torch.pi * 3 * t)
    phase = 2 * torch.pi * torch.cumsum(f0, 0) / 16_000
    wav = sum(torch.sin(h * phase) / h for h in range(1, 6)) * 0.08
    wav = wav * (t > 0.1) + 0.01 * torch.randn(NUM_SAMPLES, generator=g)
    return wav.float()


def perturb(model: torch.nn.Module, seed: int) -> None:
    """Move every weight off its initial value (a stand-in for fine-tuning)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.02)


def same_weights(a: torch.nn.Module, b: torch.nn.Module, name: str) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    if sa.keys() != sb.keys() or any(not torch.equal(sa[k], sb[k]) for k in sa):
        raise RuntimeError(f"{name}: fairseq's loader did not restore the saved weights")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default {OUT})")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)

    import fairseq
    from fairseq.data import Dictionary

    wav = waveform()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        km = Dictionary()
        for i in range(KM_CLASSES):
            km.add_symbol(str(i))
        km.save(str(data / "dict.km.txt"))
        ltr = Dictionary()
        for c in "ABCDE|":
            ltr.add_symbol(c)
        ltr.save(str(data / "dict.ltr.txt"))

        for seed, (name, cli) in enumerate(MODELS.items()):
            torch.manual_seed(seed)
            pretrained = out / "wav2vec2_large_lv60k.cfg_dict.pt"
            cfg = build_cfg([a.format(data=data, pretrained=pretrained) for a in cli], data)
            model = build_model(cfg)
            if name.endswith("_ctc"):
                perturb(model, seed)
                cfg.model.w2v_path = pretrained.name  # not read: the pre-training config is embedded
                cfg.model.data = cfg.model.w2v_args.task.data = "data"
            cfg.task.data = "data"  # no temporary paths in the files (the loader below overrides them)
            if "label_dir" in cfg.task:
                cfg.task.label_dir = "data"
            normalize = bool(cfg.task.normalize)
            source = (F.layer_norm(wav, wav.shape) if normalize else wav)[None]
            reference = fairseq_layers(model, source)
            for fmt in FORMATS:
                path = out / f"{name}.{fmt}.pt"
                save(model, cfg, fmt, path)
                loaded, loaded_cfg = load_with_fairseq(path, data)
                same_weights(model, loaded, path.name)
                if bool(loaded_cfg.task.normalize) != normalize:
                    raise RuntimeError(f"{path.name}: fairseq reads normalize={loaded_cfg.task.normalize}")
                layers = fairseq_layers(loaded, source)
                for key, value in layers.items():
                    if not np.array_equal(value, reference[key]):
                        raise RuntimeError(f"{path.name}: {key} differs from the model that was saved")
                inner = encoder_model(loaded)
                meta = {
                    "model": name, "format": fmt, "kind": "hubert" if name.startswith("hubert") else "wav2vec2",
                    "fine_tuned": inner is not loaded, "normalize": normalize,
                    "num_layers": len(inner.encoder.layers), "dim": int(layers["layer_0"].shape[-1]),
                    "layer_norm_first": bool(inner.encoder.layer_norm_first),
                    "fairseq": fairseq.__version__, "torch": torch.__version__,
                }
                np.savez_compressed(out / f"{name}.{fmt}.npz", wav=wav.numpy(), meta=np.array(json.dumps(meta)),
                                    **layers)
                print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB, {meta['num_layers']} blocks, "
                      f"dim {meta['dim']}, {layers['layer_0'].shape[0]} frames", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
