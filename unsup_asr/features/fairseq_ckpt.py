"""Original fairseq wav2vec 2.0 and HuBERT checkpoints, read without fairseq.

fairseq wrote its ``.pt`` files in three ways, all read here:

=========================  =====================================================================
``cfg`` dict               fairseq's trainer (``OmegaConf.to_container``); loads with torch's safe
                           ``weights_only`` unpickler
``cfg`` ``DictConfig``     older releases (e.g. ``wav2vec_vox_new.pt``, ``hubert_base_ls960.pt``)
``args`` ``Namespace``     before fairseq's hydra configs (e.g. ``wav2vec_small.pt``)
=========================  =====================================================================

The last two pickle Python objects that torch's ``weights_only`` loading refuses; they load only
with ``allow_pickle=True`` (``features.allow_pickle=true``, for files you trust). fairseq itself is
not needed: classes of a ``fairseq`` module that the pickle names (training-state leftovers) become
inert placeholders.

The encoder's architecture comes from the checkpoint's own config (fairseq's defaults fill fields
that older files lack, as fairseq does). Fine-tuned checkpoints (``wav2vec_ctc``, ``hubert_ctc``,
seq2seq) embed the pre-training config as ``w2v_args`` and hold the encoder under
``w2v_encoder.w2v_model.`` (``encoder.w2v_model.`` for seq2seq). Whether the model expects
normalised waveforms is the task's ``normalize``.

HuBERT's feature extractor and encoder are wav2vec 2.0's (fairseq builds HuBERT from the same
``ConvFeatureExtractionModel`` and ``TransformerEncoder``), so both share one reader.
Consumers: :mod:`unsup_asr.features.w2v2` (fairseq2) and :mod:`unsup_asr.features.hf` (transformers).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import pickle
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

PRETRAINING_MODELS = ("wav2vec2", "hubert")
"""fairseq model names (``model._name`` / ``args.arch``) of the encoders read here."""
FINE_TUNED_PREFIXES = ("w2v_encoder.w2v_model.", "encoder.w2v_model.")
"""Where fine-tuned models (CTC, seq2seq) keep the pre-trained model's parameters."""
ALLOW_PICKLE_FIX = "set features.allow_pickle=true to load it (only for files you trust)"

_DEFAULTS: dict[str, Any] = {
    "extractor_mode": "default", "encoder_layers": 12, "encoder_embed_dim": 768, "encoder_ffn_embed_dim": 3072,
    "encoder_attention_heads": 12, "activation_fn": "gelu", "layer_type": "transformer", "layer_norm_first": False,
    "conv_feature_layers": "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2", "conv_bias": False,
    "conv_pos": 128, "conv_pos_groups": 16, "pos_conv_depth": 1, "conv_pos_batch_norm": False, "quantize_input": False,
}
"""fairseq's defaults (``Wav2Vec2Config``, ``HubertConfig``: the same) of the fields read here."""
_SUPPORTED = {
    "layer_type": ("transformer",), "pos_conv_depth": (1,), "conv_pos_batch_norm": (False,),
    "quantize_input": (False,), "activation_fn": ("gelu",), "extractor_mode": ("default", "layer_norm"),
}
"""Values of architecture fields that the readers handle (those of every released model)."""
_WEIGHT_NORM = {"parametrizations.weight.original0": "weight_g", "parametrizations.weight.original1": "weight_v"}


@dataclass(frozen=True, kw_only=True)
class FairseqArch:
    """Encoder architecture of a fairseq wav2vec 2.0 / HuBERT checkpoint (fairseq's field names)."""

    model: str
    """``wav2vec2`` or ``hubert`` (the pre-trained model's name)."""
    encoder_layers: int
    """Number of transformer blocks."""
    encoder_embed_dim: int
    """Model dimension."""
    encoder_ffn_embed_dim: int
    """Inner dimension of the feed-forward networks."""
    encoder_attention_heads: int
    """Attention heads per block."""
    conv_layers: tuple[tuple[int, int, int], ...]
    """``(channels, kernel, stride)`` of each CNN layer (``conv_feature_layers``)."""
    conv_bias: bool
    """Whether the CNN layers have biases."""
    extractor_mode: str
    """``default`` (GroupNorm after the first CNN layer) or ``layer_norm`` (LayerNorm after every one)."""
    layer_norm_first: bool
    """Pre-LN blocks with a final LayerNorm after the last one (``large_lv60k``-style); else post-LN."""
    conv_pos: int
    """Kernel size of the convolutional position encoding."""
    conv_pos_groups: int
    """Groups of the convolutional position encoding."""


@dataclass(kw_only=True)
class FairseqCheckpoint:
    """What the featurizers need from a fairseq checkpoint."""

    path: Path
    """The file."""
    format: str
    """``cfg dict``, ``cfg DictConfig`` or ``args Namespace``."""
    fine_tuned: bool
    """The encoder came from a fine-tuned model (its output head is dropped)."""
    arch: FairseqArch
    """The encoder's architecture, from the checkpoint's config."""
    normalize: bool
    """The model expects waveforms normalised to zero mean, unit variance (the task's ``normalize``)."""
    state_dict: dict[str, torch.Tensor]
    """The pre-trained model's tensors under fairseq's names, without a fine-tuning prefix; the
    positional convolution's weight norm as ``weight_g``/``weight_v``."""


class _Placeholder:
    """Stands in for an object of a fairseq class when fairseq is not installed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] == "fairseq":
            try:
                return getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError):
                return type(name, (_Placeholder,), {"__module__": module})
        return super().find_class(module, name)


_PICKLE = types.SimpleNamespace(Unpickler=_Unpickler, load=pickle.load, __name__="pickle")
"""A ``pickle_module`` for ``torch.load`` that does not need fairseq installed."""


def load_checkpoint(path: Path, allow_pickle: bool) -> Any:
    """``torch.load`` of ``path`` on the CPU: torch's safe ``weights_only`` unpickler unless
    ``allow_pickle``; refused objects raise a ValueError that names ``features.allow_pickle``."""
    if allow_pickle:
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_PICKLE)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        raise ValueError(
            f"checkpoint {path} holds pickled Python objects ({found.group(1) if found else 'see torch.load'}) that "
            "torch's weights_only loading refuses; original fairseq checkpoints pickle their config as an omegaconf "
            f"DictConfig (cfg) or an argparse Namespace (args): {ALLOW_PICKLE_FIX}"
        ) from None


def is_fairseq_checkpoint(state: Any) -> bool:
    """Whether a loaded checkpoint is an original fairseq one (``model`` plus ``cfg`` or ``args``)."""
    return isinstance(state, Mapping) and "model" in state and (
        state.get("cfg") is not None or state.get("args") is not None)


def _plain(obj: Any) -> Any:
    """DictConfig / ListConfig / Namespace (nested) -> plain dicts and lists."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if OmegaConf.is_config(obj):
        try:
            obj = OmegaConf.to_container(obj, resolve=True, enum_to_str=True)
        except OmegaConfBaseException:  # an interpolation that cannot be resolved: keep it as text
            obj = OmegaConf.to_container(obj, resolve=False, enum_to_str=True)
    if isinstance(obj, argparse.Namespace):
        obj = vars(obj)
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def parse_conv_layers(spec: str) -> tuple[tuple[int, int, int], ...]:
    """fairseq's ``conv_feature_layers`` (e.g. ``"[(512, 10, 5)] + [(512, 3, 2)] * 4"``), which
    fairseq ``eval``s, read safely: list and tuple literals of ints, ``+`` and ``*`` only."""

    def value(node: ast.expr) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.List | ast.Tuple):
            items = [value(e) for e in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mult):
            left, right = value(node.left), value(node.right)
            return left + right if isinstance(node.op, ast.Add) else left * right
        raise ValueError(f"unsupported element {ast.dump(node)}")

    try:
        layers = value(ast.parse(spec, mode="eval").body)
        out = tuple((int(c), int(k), int(s)) for c, k, s in layers)
    except (SyntaxError, ValueError, TypeError) as e:
        raise ValueError(f"cannot read conv_feature_layers={spec!r} as a list of (dim, kernel, stride): {e}") from None
    if not out:
        raise ValueError(f"conv_feature_layers={spec!r} has no layers")
    return out


def _configs(state: Mapping[str, Any], path: Path) -> tuple[str, dict[str, Any], dict[str, Any], str]:
    """``(format, model config, task config, pre-trained model name)``; a fine-tuned model's
    ``model`` config is its pre-training one (``w2v_args``)."""
    cfg = state.get("cfg")
    if cfg is not None:
        fmt = "cfg dict" if isinstance(cfg, dict) else f"cfg {type(cfg).__name__}"
        plain = _plain(cfg)
        model, task = plain.get("model") or {}, plain.get("task") or {}
        name = model.get("_name")
    else:
        fmt = "args Namespace"
        model = task = _plain(state["args"])
        name = model.get("arch")
    if not isinstance(model, dict) or not isinstance(task, dict):
        raise ValueError(f"{path}: the checkpoint's {fmt} has no model/task sections")
    if "w2v_args" in model or "w2v_path" in model:  # a fine-tuned model around a pre-trained one
        pre = model.get("w2v_args")
        if not pre:
            raise ValueError(
                f"{path}: fine-tuned checkpoint ({name}) without its pre-training config (w2v_args is empty; fairseq "
                f"would read it from w2v_path={model.get('w2v_path')!r}): load that pre-training checkpoint instead"
            )
        pre = _plain(pre)
        pre_model, pre_task = (pre["model"], pre.get("task") or {}) if "model" in pre else (pre, pre)
        pre_name = pre_model.get("_name", pre_model.get("arch"))
        if model.get("layer_type") is not None:  # fairseq's Wav2VecEncoder carries it over to the encoder
            pre_model = {**pre_model, "layer_type": model["layer_type"]}
        normalize = task.get("normalize", model.get("normalize", pre_task.get("normalize", False)))
        return fmt, pre_model, {"normalize": normalize}, str(pre_name)
    return fmt, model, task, str(name)


def read_fairseq_checkpoint(state: Mapping[str, Any], path: Path) -> FairseqCheckpoint:
    """The encoder of a loaded fairseq checkpoint (see :func:`is_fairseq_checkpoint`)."""
    fmt, model, task, name = _configs(state, path)
    if name not in PRETRAINING_MODELS:
        raise ValueError(f"{path}: fairseq model {name!r} is not supported; supported: {PRETRAINING_MODELS} "
                         "(pre-trained, or fine-tuned from one of them)")
    m = {**_DEFAULTS, **{k: v for k, v in model.items() if v is not None}}
    for key, ok in _SUPPORTED.items():
        if m[key] not in ok:
            raise ValueError(f"{path}: the encoder has {key}={m[key]!r}; unsup-asr reads fairseq encoders with {key} "
                             f"in {ok} (all released wav2vec 2.0 and HuBERT models)")
    arch = FairseqArch(
        model=name, encoder_layers=int(m["encoder_layers"]), encoder_embed_dim=int(m["encoder_embed_dim"]),
        encoder_ffn_embed_dim=int(m["encoder_ffn_embed_dim"]),
        encoder_attention_heads=int(m["encoder_attention_heads"]),
        conv_layers=parse_conv_layers(str(m["conv_feature_layers"])), conv_bias=bool(m["conv_bias"]),
        extractor_mode=str(m["extractor_mode"]), layer_norm_first=bool(m["layer_norm_first"]),
        conv_pos=int(m["conv_pos"]), conv_pos_groups=int(m["conv_pos_groups"]),
    )
    weights = state["model"]
    prefix = next((p for p in ("", *FINE_TUNED_PREFIXES) if f"{p}feature_extractor.conv_layers.0.0.weight" in weights),
                  None)
    if prefix is None:
        raise ValueError(f"{path}: no wav2vec 2.0 / HuBERT feature extractor among the checkpoint's weights (looked "
                         f"for feature_extractor.conv_layers.0.0.weight under {('', *FINE_TUNED_PREFIXES)})")
    tensors = {}
    for key, tensor in weights.items():
        if key.startswith(prefix) and isinstance(tensor, torch.Tensor):
            key = key[len(prefix):]
            for new_style, old_style in _WEIGHT_NORM.items():
                key = key.replace(new_style, old_style)
            tensors[key] = tensor
    return FairseqCheckpoint(path=path, format=fmt, fine_tuned=bool(prefix), arch=arch,
                             normalize=bool(task.get("normalize", False)), state_dict=tensors)
