"""HuBERT, WavLM and wav2vec 2.0 featurizer through transformers, from a local model folder.

The only module that imports ``transformers`` (lazily, when a model is loaded, so registering the
``hf`` config group costs nothing). Models are read with ``local_files_only=True``; nothing is
downloaded. Make a folder once on a machine with internet access::

    AutoModel.from_pretrained("facebook/hubert-large-ll60k").save_pretrained(DIR)
    AutoFeatureExtractor.from_pretrained("facebook/hubert-large-ll60k").save_pretrained(DIR)

and select it with ``features=hf features.path=DIR``.

**Original fairseq checkpoints.** ``features.path`` may also be a fairseq HuBERT or wav2vec 2.0
``.pt`` file (pre-trained or fine-tuned, any of fairseq's three formats; see
:mod:`unsup_asr.features.fairseq_ckpt`), e.g. ``hubert_base_ls960.pt``::

    uasr extract_features features=hf features.path=/path/hubert_base_ls960.pt features.allow_pickle=true

The model (transformers' ``HubertModel`` or ``Wav2Vec2Model``) is built from the checkpoint's own
config and its weights are renamed by an explicit key map (:data:`FAIRSEQ_KEY_MAP`); waveforms are
normalised when the checkpoint's task says ``normalize: true``, with fairseq's epsilon (1e-5).
Layers 0..L-1 equal fairseq's (and ``features=w2v2``'s); layer ``L`` of a pre-LN model follows the
table below: fairseq's encoder output with its final LayerNorm (``extract_features`` without a
layer), where ``features=w2v2`` gives the last block's raw output (``layer=L - 1``).

**Layer mapping.** Our layer ``k`` equals transformers' ``hidden_states[k]`` of the *full* model
(``output_hidden_states=True``), for every backend. ``x`` is the projected conv output
(``feature_projection``: LayerNorm + Linear), ``pos`` the positional convolution, ``LN`` the
encoder's own LayerNorm, ``L = num_hidden_layers``:

======  ======================================  ===============================================
ours    post-LN (``do_stable_layer_norm=False``:  pre-LN (``do_stable_layer_norm=True``: large,
        base models)                             lv60k, XLS-R)
======  ======================================  ===============================================
0       ``LN(x + pos(x))`` = input of block 1    ``x + pos(x)`` = input of block 1 (no LN)
1..L-1  output of block k                       output of block k (un-normalised residual)
L       output of block L                       ``LN(output of block L)`` (final encoder LN)
======  ======================================  ===============================================

So fairseq's wav2vec-U ``--layer 14`` is our 15 (see :mod:`unsup_asr.features.featurizer`).

**Compute.** One forward pass per call; blocks above ``max(layers)`` are not run: the encoder's
``layers`` list is cut to a prefix for the duration of the call (and, for pre-LN models, the final
``LN`` is bypassed unless layer ``L`` is asked for, since it belongs to ``hidden_states[L]`` only).
WavLM's relative position bias is computed by block 1 alone and handed upwards; a prefix always
keeps block 1. Padding is exact: frames past an utterance's end are masked in attention and zeroed
before the positional convolution (as transformers does), and for conv stacks with GroupNorm
(``feat_extract_norm="group"``, base models), whose first layer normalises over the whole padded
time axis, the conv feature extractor runs on each utterance alone. Each utterance's features
therefore match running it alone (up to float rounding).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from unsup_asr.features.fairseq_ckpt import (
    FairseqCheckpoint,
    is_fairseq_checkpoint,
    load_checkpoint,
    read_fairseq_checkpoint,
)
from unsup_asr.features.featurizer import FEATURIZERS, Featurizer
from unsup_asr.features.frames import SAMPLE_RATE

SUPPORTED_MODEL_TYPES = ("hubert", "wavlm", "wav2vec2")
"""transformers ``model_type`` values this featurizer handles."""
DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
STRIDE = 320
"""Total conv stride in samples (20 ms at 16 kHz) that the pipeline's frame shift assumes."""

_FIX = (
    "save a model there first, on a machine with internet access: "
    "AutoModel.from_pretrained(NAME).save_pretrained(DIR) and "
    "AutoFeatureExtractor.from_pretrained(NAME).save_pretrained(DIR), then set features.path=DIR "
    "(or set features.path to an original fairseq HuBERT / wav2vec 2.0 .pt file)"
)
FAIRSEQ_KEY_MAP: tuple[tuple[str, str], ...] = (
    (r"^feature_extractor\.conv_layers\.(\d+)\.0\.", r"feature_extractor.conv_layers.\1.conv."),
    (r"^feature_extractor\.conv_layers\.(\d+)\.2\.1\.", r"feature_extractor.conv_layers.\1.layer_norm."),
    (r"^feature_extractor\.conv_layers\.0\.2\.", "feature_extractor.conv_layers.0.layer_norm."),  # GroupNorm
    (r"^layer_norm\.", "feature_projection.layer_norm."),
    (r"^post_extract_proj\.", "feature_projection.projection."),
    (r"^encoder\.pos_conv\.0\.weight_g$", "encoder.pos_conv_embed.conv.parametrizations.weight.original0"),
    (r"^encoder\.pos_conv\.0\.weight_v$", "encoder.pos_conv_embed.conv.parametrizations.weight.original1"),
    (r"^encoder\.pos_conv\.0\.bias$", "encoder.pos_conv_embed.conv.bias"),
    (r"^encoder\.layers\.(\d+)\.self_attn\.", r"encoder.layers.\1.attention."),
    (r"^encoder\.layers\.(\d+)\.self_attn_layer_norm\.", r"encoder.layers.\1.layer_norm."),
    (r"^encoder\.layers\.(\d+)\.fc1\.", r"encoder.layers.\1.feed_forward.intermediate_dense."),
    (r"^encoder\.layers\.(\d+)\.fc2\.", r"encoder.layers.\1.feed_forward.output_dense."),
    (r"^encoder\.layers\.(\d+)\.final_layer_norm\.", r"encoder.layers.\1.final_layer_norm."),
    (r"^encoder\.layer_norm\.", "encoder.layer_norm."),
    (r"^mask_emb$", "masked_spec_embed"),
)
"""fairseq wav2vec 2.0 / HuBERT parameter names -> transformers' ``HubertModel`` / ``Wav2Vec2Model``
ones (first match wins); pre-training heads (quantizer, ``final_proj``, ``label_embs_concat``, ...)
have no entry and are dropped."""
FAIRSEQ_NORM_EPS = 1e-5
"""Epsilon of fairseq's waveform normalisation (``F.layer_norm`` in its audio datasets)."""


@dataclass(kw_only=True)
class HfConfig:
    """Configuration of the transformers (HuBERT / WavLM / wav2vec 2.0) featurizer."""

    name: str = "hf"
    """Registry name of the featurizer."""
    path: str = ""
    """Local model folder holding ``config.json`` and the weights (``save_pretrained`` output), or an
    original fairseq HuBERT / wav2vec 2.0 ``.pt`` checkpoint (architecture from its own config)."""
    allow_pickle: bool = False
    """Unpickle arbitrary objects from a fairseq checkpoint (needed when its config is a pickled
    omegaconf DictConfig or argparse Namespace; only for trusted files)."""
    normalize_waveform: bool | None = None
    """Per-utterance zero-mean unit-variance waveform normalisation over the valid samples, as the
    model's feature extractor does. ``None``: the task's ``normalize`` of a fairseq checkpoint, else
    ``do_normalize`` of the folder's ``preprocessor_config.json``; without that file, on for models
    with a LayerNorm conv stack (``feat_extract_norm="layer"``, the models fairseq trained with
    ``normalize=True``)."""
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu`` or ``cuda`` (or ``cuda:N``)."""
    dtype: str = "float32"
    """Weights and compute dtype: ``float32``, ``float16`` or ``bfloat16``; outputs are float32."""

    def validate(self) -> None:
        if not self.path:
            raise ValueError(f"features.path is empty: point it to a local model folder; {_FIX}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"features.device={self.device!r} must be 'auto', 'cpu', 'cuda' or 'cuda:N'")
        if self.dtype not in DTYPES:
            raise ValueError(f"features.dtype={self.dtype!r} must be one of {sorted(DTYPES)}")


def model_files_hash(folder: Path) -> str:
    """SHA-1 of the names and sizes of the folder's files plus the bytes of ``config.json``."""
    h = hashlib.sha1()
    for p in sorted(folder.iterdir()):
        if p.is_file():
            h.update(f"{p.name}\0{p.stat().st_size}\n".encode())
    h.update((folder / "config.json").read_bytes())
    return h.hexdigest()


def _load_fairseq(path: Path, dtype: torch.dtype, allow_pickle: bool) -> tuple[Any, FairseqCheckpoint]:
    """transformers' model with the architecture and weights of an original fairseq checkpoint."""
    from transformers import HubertConfig, HubertModel, Wav2Vec2Config, Wav2Vec2Model

    state = load_checkpoint(path, allow_pickle)
    if not is_fairseq_checkpoint(state):
        raise ValueError(f"{path} is not an original fairseq checkpoint (no model plus cfg or args): features=hf reads "
                         f"a transformers model folder or a fairseq HuBERT / wav2vec 2.0 .pt file")
    ckpt = read_fairseq_checkpoint(state, path)
    a = ckpt.arch
    config: dict[str, Any] = dict(
        hidden_size=a.encoder_embed_dim, num_hidden_layers=a.encoder_layers,
        num_attention_heads=a.encoder_attention_heads, intermediate_size=a.encoder_ffn_embed_dim, hidden_act="gelu",
        conv_dim=[c for c, _, _ in a.conv_layers], conv_kernel=[k for _, k, _ in a.conv_layers],
        conv_stride=[s for _, _, s in a.conv_layers], conv_bias=a.conv_bias, feat_extract_activation="gelu",
        feat_extract_norm="layer" if a.extractor_mode == "layer_norm" else "group",
        do_stable_layer_norm=a.layer_norm_first, layer_norm_eps=1e-5,
        num_conv_pos_embeddings=a.conv_pos, num_conv_pos_embedding_groups=a.conv_pos_groups,
        hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, feat_proj_dropout=0.0, layerdrop=0.0,
    )
    model: Any
    if a.model == "hubert":
        model = HubertModel(HubertConfig(**config, feat_proj_layer_norm=True))  # type: ignore[no-untyped-call]
    else:
        model = Wav2Vec2Model(Wav2Vec2Config(**config))  # type: ignore[no-untyped-call]
    names = model.state_dict().keys()
    weights = {}
    for key, tensor in ckpt.state_dict.items():
        new = next((re.sub(p, r, key) for p, r in FAIRSEQ_KEY_MAP if re.match(p, key)), None)
        if new is not None and new not in names:  # transformers without parametrized weight norm
            new = new.replace("parametrizations.weight.original0", "weight_g").replace(
                "parametrizations.weight.original1", "weight_v")
        if new is not None:
            weights[new] = tensor
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as e:
        raise ValueError(f"{path}: its weights do not fit the architecture read from its config ({a}): {e}") from None
    model.to(dtype).eval().requires_grad_(False)
    return model, replace(ckpt, state_dict={})  # the weights now live in the model only


def _load_model(folder: Path, dtype: torch.dtype) -> tuple[Any, str]:
    """The eval-mode base model in ``folder`` and transformers' version; clear errors otherwise."""
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder {folder} does not exist; {_FIX}")
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder} is not a transformers model folder (no config.json); {_FIX}")
    import transformers
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(folder, local_files_only=True)
    if config.model_type not in SUPPORTED_MODEL_TYPES:
        raise ValueError(f"{folder} holds a {config.model_type!r} model; features=hf supports {SUPPORTED_MODEL_TYPES}")
    try:
        model = AutoModel.from_pretrained(folder, config=config, local_files_only=True, dtype=dtype)
    except OSError as e:
        raise FileNotFoundError(f"cannot load the weights in {folder} ({e}); {_FIX}") from e
    model.eval().requires_grad_(False)
    return model, str(transformers.__version__)


def checkpoint_file_hash(path: Path, config: str) -> str:
    """SHA-1 of a checkpoint file's name and size plus the model config built from it."""
    h = hashlib.sha1(f"{path.name}\0{path.stat().st_size}\n".encode())
    h.update(config.encode())
    return h.hexdigest()


def _read_do_normalize(folder: Path) -> bool | None:
    path = folder / "preprocessor_config.json"
    if not path.is_file():
        return None
    value = json.loads(path.read_text()).get("do_normalize")
    return None if value is None else bool(value)


def normalize_waveforms(wavs: torch.Tensor, wav_lens: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """``(B, N)`` -> zero-mean unit-variance over each row's first ``wav_lens`` samples, zeros after
    (transformers' ``Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm``: epsilon 1e-7; fairseq: 1e-5)."""
    out = torch.zeros_like(wavs, dtype=torch.float32)
    for i, n in enumerate(wav_lens.tolist()):
        w = wavs[i, :n].float()
        out[i, :n] = (w - w.mean()) / torch.sqrt(w.var(unbiased=False) + eps)
    return out


@FEATURIZERS.register("hf", config=HfConfig)
class HfFeaturizer(Featurizer):
    """Frames of a local HuBERT / WavLM / wav2vec 2.0 model, one forward pass, truncated above
    the highest requested layer. See the module docstring for the layer mapping."""

    def __init__(self, cfg: HfConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        self.folder = Path(cfg.path).expanduser().resolve()
        if cfg.device == "auto":
            self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        else:
            self.device = torch.device(cfg.device)
            if self.device.type == "cuda" and not torch.cuda.is_available():
                raise ValueError(f"features.device={cfg.device!r} but CUDA is not available; use 'auto' or 'cpu'")
        self.dtype = DTYPES[cfg.dtype]
        self.fairseq: FairseqCheckpoint | None = None
        self.norm_eps = 1e-7
        if self.folder.is_file():
            import transformers

            self.model, self.fairseq = _load_fairseq(self.folder, self.dtype, cfg.allow_pickle)
            self._transformers_version = str(transformers.__version__)
            self.norm_eps = FAIRSEQ_NORM_EPS
        else:
            self.model, self._transformers_version = _load_model(self.folder, self.dtype)
        self.model.to(self.device)
        mc = self.model.config
        stride = math.prod(mc.conv_stride)
        if stride != STRIDE:
            raise ValueError(f"{self.folder}: total conv stride {stride} samples, the pipeline needs {STRIDE} (20 ms)")
        self.num_layers = int(mc.num_hidden_layers)
        self.dim = int(mc.hidden_size)
        self.frame_shift_s = STRIDE / SAMPLE_RATE
        self.stable_layer_norm = bool(mc.do_stable_layer_norm)
        self.group_norm_conv = mc.feat_extract_norm == "group"
        read = self.fairseq.normalize if self.fairseq is not None else _read_do_normalize(self.folder)
        fallback = read if read is not None else mc.feat_extract_norm == "layer"
        self.normalize = cfg.normalize_waveform if cfg.normalize_waveform is not None else fallback
        receptive = 1
        for k, s in zip(reversed(mc.conv_kernel), reversed(mc.conv_stride), strict=True):
            receptive = (receptive - 1) * s + k
        self.min_samples = receptive  # shortest input (samples) that yields one frame

    def cache_config(self) -> dict[str, Any]:
        return {
            "featurizer": "hf",
            "path": str(self.folder),
            "model_type": self.model.config.model_type,
            "model_files_sha1": model_files_hash(self.folder) if self.fairseq is None else checkpoint_file_hash(
                self.folder, json.dumps(self.model.config.to_diff_dict(), sort_keys=True)),
            "normalize_waveform": self.normalize,
            "dtype": self.cfg.dtype,
            "transformers": self._transformers_version,
        }

    def num_frames(self, wav_lens: torch.Tensor) -> torch.Tensor:
        """``(B,)`` samples -> ``(B,)`` int64 frames, by the model's own conv length formula."""
        fn = self.model._get_feat_extract_output_lengths
        kw = {"add_adapter": False} if "add_adapter" in inspect.signature(fn).parameters else {}
        return torch.as_tensor(fn(wav_lens.to(torch.long), **kw), dtype=torch.long)

    @contextlib.contextmanager
    def truncated(self, top: int) -> Iterator[None]:
        """Run only blocks ``1..top`` inside the context (restores the encoder on exit)."""
        enc = self.model.encoder
        layers, final_norm = enc.layers, enc.layer_norm
        enc.layers = nn.ModuleList(list(layers)[:top])
        if self.stable_layer_norm and top < self.num_layers:
            enc.layer_norm = nn.Identity()
        try:
            yield
        finally:
            enc.layers = layers
            enc.layer_norm = final_norm

    def _frontend(self, x: torch.Tensor, wav_lens: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """``(B, N)`` waveforms -> ``(B, T, D)`` projected conv features, ``T = max(lens)``."""
        conv = self.model.feature_extractor
        t_max = int(lens.max())
        if self.group_norm_conv:
            feats = x.new_zeros(x.shape[0], int(self.model.config.conv_dim[-1]), t_max)
            for i, (n, t) in enumerate(zip(wav_lens.tolist(), lens.tolist(), strict=True)):
                f = conv(x[i : i + 1, :n])
                if f.shape[-1] != t:
                    raise RuntimeError(f"conv stack gave {f.shape[-1]} frames for {n} samples, expected {t}")
                feats[i, :, :t] = f[0]
        else:
            feats = conv(x)
            if feats.shape[-1] < t_max:
                raise RuntimeError(f"conv stack gave {feats.shape[-1]} frames, expected at least {t_max}")
            feats = feats[..., :t_max]
        proj = self.model.feature_projection(feats.transpose(1, 2))
        out: torch.Tensor = proj[0] if isinstance(proj, tuple) else proj
        return out

    def __call__(
        self, wavs: torch.Tensor, wav_lens: torch.Tensor, layers: Sequence[int]
    ) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
        wanted = self.check_layers(layers)
        if wavs.dim() != 2 or wav_lens.shape != (wavs.shape[0],):
            raise ValueError(f"expected wavs (B, N) and wav_lens (B,), got {tuple(wavs.shape)} and "
                             f"{tuple(wav_lens.shape)}")
        wav_lens = wav_lens.detach().to("cpu", torch.long)
        if bool((wav_lens > wavs.shape[1]).any()):
            raise ValueError(f"wav_lens {wav_lens.tolist()} exceed the {wavs.shape[1]} samples of wavs")
        if bool((wav_lens < self.min_samples).any()):
            n = int(wav_lens.min())
            raise ValueError(f"audio of {n} samples is shorter than the model's {self.min_samples}-sample minimum")
        lens = self.num_frames(wav_lens)
        x = wavs.detach().to("cpu", torch.float32)
        x = normalize_waveforms(x, wav_lens, self.norm_eps) if self.normalize else x * (
            torch.arange(x.shape[1])[None] < wav_lens[:, None])
        x = x.to(self.device, self.dtype)
        dev_lens = lens.to(self.device)
        with torch.inference_mode(), self.truncated(wanted[-1]):
            h = self._frontend(x, wav_lens, lens)
            mask = torch.arange(h.shape[1], device=self.device)[None] < dev_lens[:, None]
            hidden = self.model.encoder(h, attention_mask=mask, output_hidden_states=True, return_dict=True)
            states = hidden.hidden_states
            out = {}
            for k in wanted:
                feats = states[k].masked_fill(~mask[..., None], 0.0).float().cpu()
                out[k] = (feats, lens.clone())
        return out
