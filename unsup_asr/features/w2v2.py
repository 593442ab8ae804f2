"""wav2vec 2.0 featurizer on fairseq2 0.8.1 (the only module of unsup-asr that imports fairseq2).

All requested layers come from **one** forward pass: the encoder frontend runs once, each block's
output is captured with ``TransformerEncoder.register_layer_hook``, and the blocks above
``max(layers)`` are taken out of the stack for the duration of the call (fairseq2's hook cannot stop
the stack: the ``break`` on ``False`` only leaves the hook loop).

What each layer index holds (see ``unsup_asr.features.featurizer`` for the numbering convention):

=====  ==========================================  ==========================================
index  post-LN encoders (``base``, ``large``)      pre-LN encoders (``large_lv60k``)
=====  ==========================================  ==========================================
0      frontend output: CNN features -> LayerNorm  frontend output: CNN features -> LayerNorm
       (512) -> Linear to model dim -> + conv      (512) -> Linear to model dim -> + conv
       positional encoding -> **LayerNorm**        positional encoding (**no** LayerNorm:
       (fairseq's ``encoder.layer_norm``)          fairseq applies it after the last block)
k      output of block k (ends in its FFN          output of block k: the raw residual stream,
       LayerNorm, so it is normalised)             not normalised
L      output of block L (= encoder output)        output of block L **without** the encoder's
                                                   final LayerNorm
=====  ==========================================  ==========================================

Dropout is inactive (eval mode). Our layer k >= 1 is fairseq's ``extract_features(..., layer=k - 1)``
(its ``layer`` is 0-based and it returns that block's output), so wav2vec-U's ``--layer 14`` is our
15. For pre-LN models, HuggingFace's last ``hidden_states`` entry has the final LayerNorm applied and
ours does not; every other layer agrees.

Padding: the CNN of ``base``/``large`` starts with a GroupNorm over time, whose statistics would see
the zero padding, so for those models the CNN runs one utterance at a time (exact, slower); models
with per-frame LayerNorm convolutions (``large_lv60k``) run it batched. The transformer always runs
batched with fairseq2's ``BatchLayout`` padding mask.

Checkpoints (``W2v2Config.checkpoint``):

* **a path** to an **original fairseq** wav2vec 2.0 or HuBERT checkpoint, pre-trained or
  fine-tuned (CTC / seq2seq: only the encoder is used), in any of fairseq's three formats (see
  :mod:`unsup_asr.features.fairseq_ckpt`). The architecture (blocks, dims, heads, CNN layers,
  ``layer_norm_first``, ``extractor_mode``, ``conv_pos``, ...) and whether waveforms are normalised
  come from the checkpoint's own config, so only the path is needed; ``arch`` and
  ``config_overrides`` do not apply. Files whose config is a pickled DictConfig or Namespace need
  ``allow_pickle=True`` (only for files you trust)::

      uasr extract_features features=w2v2 features.checkpoint=/path/wav2vec_vox_new.pt features.allow_pickle=true

  HuBERT's CNN and transformer are wav2vec 2.0's, so fairseq2's wav2vec 2.0 encoder runs it
  exactly (``hubert_base_ls960.pt`` works the same way).
* **a path** to a fairseq2 wav2vec 2.0 checkpoint (a state dict, optionally under ``"model"``),
  built from ``arch`` plus ``config_overrides``.
* **an asset card name** (e.g. ``wav2vec2_large_lv60k``), looked up in ``card_dir`` if set, else
  in fairseq2's asset store. Its ``checkpoint`` field must be a local path or ``file://`` URI for
  offline use (relative paths are relative to the card file).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.nn import ModuleList

if TYPE_CHECKING:  # fairseq2 is imported where it is used, so registering "w2v2" costs nothing
    from fairseq2.assets import AssetCard
    from fairseq2.models.wav2vec2 import Wav2Vec2Model
    from fairseq2.nn import BatchLayout

from unsup_asr.features.fairseq_ckpt import (
    FairseqCheckpoint,
    is_fairseq_checkpoint,
    load_checkpoint,
    read_fairseq_checkpoint,
)
from unsup_asr.features.featurizer import FEATURIZERS, Featurizer

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(kw_only=True)
class W2v2Config:
    """Configuration of the fairseq2 wav2vec 2.0 featurizer."""

    name: str = "w2v2"
    """Registry name of the featurizer."""
    checkpoint: str = ""
    """A local ``.pt`` path (an original fairseq wav2vec 2.0 / HuBERT checkpoint, whose own config
    gives the architecture, or a fairseq2 wav2vec 2.0 checkpoint, built with ``arch``) or a
    fairseq2 asset card name (looked up in ``card_dir``, else fairseq2's asset store)."""
    card_dir: str | None = None
    """Folder of fairseq2 asset card YAML files in which to look up ``checkpoint`` as a card name."""
    arch: str = "large_lv60k"
    """fairseq2 wav2vec2 architecture (``base``, ``large``, ``large_lv60k``) of a fairseq2 checkpoint
    path (original fairseq checkpoints carry their own)."""
    config_overrides: dict[str, Any] = field(default_factory=dict)
    """Nested overrides of the arch config, as in a card's ``model_config_overrides``
    (e.g. ``{"encoder_config": {"num_encoder_layers": 3}}``); only with a fairseq2 checkpoint path."""
    allow_pickle: bool = False
    """Unpickle arbitrary objects from the checkpoint (needed for original fairseq checkpoints whose
    config is a pickled omegaconf DictConfig or argparse Namespace; only for trusted files)."""
    device: str = "cpu"
    """Torch device, e.g. ``cpu`` or ``cuda:0``."""
    dtype: str = "float32"
    """Compute dtype: ``float32``, ``float16`` or ``bfloat16``; outputs are always float32."""
    normalize_waveform: bool | None = None
    """Normalise each waveform to zero mean, unit variance over its valid samples (required by
    ``large_lv60k``-style models trained with ``normalize: true``; fairseq's ``base`` was not).
    ``None``: the task's ``normalize`` of an original fairseq checkpoint, else on."""

    def validate(self) -> None:
        if not self.checkpoint:
            raise ValueError("features.checkpoint is empty: give a wav2vec 2.0 .pt path or an asset card name")
        if self.dtype not in _DTYPES:
            raise ValueError(f"features.dtype must be one of {sorted(_DTYPES)}, got {self.dtype!r}")
        if self.card_dir is not None and not Path(self.card_dir).is_dir():
            raise ValueError(f"features.card_dir {self.card_dir} is not a folder")
        try:
            torch.device(self.device)
        except RuntimeError as e:
            raise ValueError(f"features.device {self.device!r} is not a torch device: {e}") from None


def _is_path(checkpoint: str) -> bool:
    return checkpoint.endswith((".pt", ".pth")) or "/" in checkpoint or Path(checkpoint).exists()


def _card_from_dir(name: str, card_dir: Path) -> AssetCard:
    from fairseq2.assets import AssetCard, get_asset_store
    from fairseq2.assets.metadata_provider import FileAssetMetadataLoader
    from fairseq2.runtime.dependency import get_dependency_resolver

    loader = get_dependency_resolver().resolve(FileAssetMetadataLoader)  # type: ignore[type-abstract]
    provider = loader.load(card_dir)
    meta = provider.maybe_get_metadata(f"{name}@") or provider.maybe_get_metadata(name)
    if meta is None:
        raise ValueError(f"no asset card named {name!r} in {card_dir}; found {sorted(provider.asset_names)}")
    base = meta.get("base")
    return AssetCard(name, meta, get_asset_store().retrieve_card(base) if isinstance(base, str) else None)


def load_wav2vec2(cfg: W2v2Config) -> Wav2Vec2Model:
    """Load the wav2vec 2.0 model described by ``cfg`` in eval mode on ``cfg.device``."""
    return _load(cfg)[0]


def _load(cfg: W2v2Config) -> tuple[Wav2Vec2Model, FairseqCheckpoint | None]:
    """The model, and the original fairseq checkpoint it came from (``None`` for fairseq2 ones)."""
    from fairseq2.assets import AssetCard
    from fairseq2.models.wav2vec2 import Wav2Vec2Config, get_wav2vec2_model_hub

    hub = get_wav2vec2_model_hub()
    device, dtype = torch.device(cfg.device), _DTYPES[cfg.dtype]
    if _is_path(cfg.checkpoint):
        path = Path(cfg.checkpoint).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"wav2vec 2.0 checkpoint {path} not found: set features.checkpoint to an existing .pt file "
                "(fairseq2, or original fairseq wav2vec 2.0 / HuBERT) or to an asset card name with features.card_dir"
            )
        state = load_checkpoint(path, cfg.allow_pickle)
        if is_fairseq_checkpoint(state):
            if cfg.config_overrides:
                raise ValueError(f"{path} is an original fairseq checkpoint, whose own config gives the architecture: "
                                 "remove features.config_overrides")
            fairseq = read_fairseq_checkpoint(state, path)
            model = _from_fairseq(fairseq, device, dtype).eval().requires_grad_(False)
            return model, replace(fairseq, state_dict={})  # the weights now live in the model only
        del state
        if cfg.arch not in hub.get_archs():
            raise ValueError(f"unknown wav2vec2 arch {cfg.arch!r}; known: {sorted(hub.get_archs())}")
        card = AssetCard(path.stem, {
            "model_family": "wav2vec2", "model_arch": cfg.arch, "model_config_overrides": cfg.config_overrides,
        })
        config: Wav2Vec2Config = hub.get_model_config(card)
        model = hub.load_custom_model(path, config, device=device, dtype=dtype, restrict=not cfg.allow_pickle)
    else:
        named = _card_from_dir(cfg.checkpoint, Path(cfg.card_dir)) if cfg.card_dir else cfg.checkpoint
        model = hub.load_model(named, device=device, dtype=dtype)
    return model.eval().requires_grad_(False), None


def _from_fairseq(ckpt: FairseqCheckpoint, device: torch.device, dtype: torch.dtype) -> Wav2Vec2Model:
    """fairseq2's wav2vec 2.0 model with the architecture and encoder weights of an original fairseq
    checkpoint (its masker, quantizer and projections, unused for features, keep their random init)."""
    from fairseq2.models.transformer import TransformerNormOrder
    from fairseq2.models.wav2vec2 import Wav2Vec2Config, convert_wav2vec2_state_dict, get_wav2vec2_model_hub

    a = ckpt.arch
    config = Wav2Vec2Config()
    enc = config.encoder_config
    enc.model_dim, enc.num_encoder_layers = a.encoder_embed_dim, a.encoder_layers
    enc.num_encoder_attn_heads, enc.ffn_inner_dim = a.encoder_attention_heads, a.encoder_ffn_embed_dim
    enc.feature_dim, enc.feature_extractor_layer_descs = a.conv_layers[-1][0], list(a.conv_layers)
    enc.feature_extractor_bias = a.conv_bias
    enc.feature_extractor_layer_norm_convs = a.extractor_mode == "layer_norm"
    enc.norm_order = TransformerNormOrder.PRE if a.layer_norm_first else TransformerNormOrder.POST
    enc.layer_norm_features = not a.layer_norm_first  # post-LN: fairseq's encoder.layer_norm before block 1
    enc.pos_conv_kernel_size, enc.num_pos_conv_groups = a.conv_pos, a.conv_pos_groups
    enc.dropout_p = enc.attn_dropout_p = enc.layer_drop_p = 0.0
    model = get_wav2vec2_model_hub().create_new_model(config, device=device, dtype=dtype)

    # Upstream gap (fairseq2 0.8.1, models/wav2vec2/interop.py): convert_wav2vec2_state_dict takes a state dict
    # for fairseq's only if it has a key "mask_emb.weight", but fairseq stores the mask embedding as the bare
    # parameter "mask_emb", so it renames nothing (ModelCheckpointMismatchError: Following keys are missing ...);
    # and its key map covers only stacked positional convolutions (encoder.pos_conv.<i>.0.*), not fairseq's
    # single one, encoder.pos_conv.0.{weight_g,weight_v,bias}. Both are handled here.
    weights: dict[str, object] = {}
    for key, tensor in ckpt.state_dict.items():
        if key == "mask_emb":
            key = "mask_emb.weight"
        elif key.startswith("encoder.pos_conv.0."):
            key = "encoder_frontend.pos_encoder.conv." + key.removeprefix("encoder.pos_conv.0.")
        weights[key] = tensor
    converted = convert_wav2vec2_state_dict(weights, config)
    for part in ("encoder_frontend", "encoder"):  # the modules that compute the features: all their weights
        tensors = {k.removeprefix(part + "."): v for k, v in converted.items() if k.startswith(part + ".")}
        try:
            getattr(model, part).load_state_dict(tensors, strict=True)
        except RuntimeError as e:
            raise ValueError(f"{ckpt.path}: its {part} weights do not fit the architecture read from its config "
                             f"({a}): {e}") from None
    return model


def _cnn_sees_padding(model: Wav2Vec2Model) -> bool:
    """True when the CNN normalises over time (GroupNorm), so padding would change valid frames."""
    from fairseq2.models.wav2vec2.feature_extractor import Wav2Vec2FeatureExtractor

    fe = model.encoder_frontend.feature_extractor
    return isinstance(fe, Wav2Vec2FeatureExtractor) and any(
        getattr(layer, "group_norm", None) is not None for layer in fe.layers
    )


@FEATURIZERS.register("w2v2", config=W2v2Config)
class W2v2Featurizer(Featurizer):
    """wav2vec 2.0 hidden states at 20 ms; layer numbering in the module docstring."""

    def __init__(self, cfg: W2v2Config, model: Wav2Vec2Model | None = None) -> None:
        """``model`` (optional) skips loading, for callers that already hold the model."""
        cfg.validate()
        self.cfg = cfg
        self.model, self.fairseq = (model, None) if model is not None else _load(cfg)
        self.model.eval()
        default = self.fairseq.normalize if self.fairseq is not None else True
        self.normalize = default if cfg.normalize_waveform is None else cfg.normalize_waveform
        self.num_layers = len(self.model.encoder.layers)
        self.dim = self.model.model_dim
        self.frame_shift_s = 0.02
        self._per_utt_cnn = _cnn_sees_padding(self.model)

    def cache_config(self) -> dict[str, Any]:
        import fairseq2

        conf = asdict(self.cfg)
        del conf["device"]  # does not change the features (beyond numerical noise)
        conf["normalize_waveform"] = self.normalize  # as resolved (None: from the checkpoint)
        return {"featurizer": "w2v2", **conf, "fairseq2": fairseq2.__version__}

    def _frontend(self, wavs: torch.Tensor, lens: list[int]) -> tuple[torch.Tensor, BatchLayout]:
        """``(B, N)`` waveforms -> frontend output ``(B, T, D)`` and its layout (frame lengths)."""
        from fairseq2.nn import BatchLayout

        frontend = self.model.encoder_frontend
        if self._per_utt_cnn:
            outs = [frontend.extract_features(w[None, :n], BatchLayout.of(w[None, :n]))[0][0]
                    for w, n in zip(wavs, lens, strict=True)]
            seqs = torch.nn.utils.rnn.pad_sequence(outs, batch_first=True)
            layout = BatchLayout.of(seqs, [o.shape[0] for o in outs])
        else:
            seqs, layout, _ = frontend.extract_features(wavs, BatchLayout.of(wavs, lens))
        seqs, _ = frontend.process_features(seqs, layout)
        return seqs, layout

    @torch.inference_mode()
    def __call__(
        self, wavs: torch.Tensor, wav_lens: torch.Tensor, layers: Sequence[int]
    ) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
        wanted = self.check_layers(layers)
        if wavs.ndim != 2 or wav_lens.shape != (wavs.shape[0],):
            shapes = f"{tuple(wavs.shape)} and {tuple(wav_lens.shape)}"
            raise ValueError(f"expected wavs (B, N) and wav_lens (B,), got {shapes}")
        lens = [int(n) for n in wav_lens.tolist()]
        if min(lens) < 400 or max(lens) > wavs.shape[1]:
            raise ValueError(f"wav_lens must lie in [400, {wavs.shape[1]}] samples (400 = one 25 ms frame), got {lens}")
        x = wavs.to(self.cfg.device, torch.float32)
        valid = torch.arange(x.shape[1], device=x.device)[None] < torch.tensor(lens, device=x.device)[:, None]
        x = x * valid
        if self.normalize:
            n = valid.sum(1, keepdim=True)
            mean = x.sum(1, keepdim=True) / n
            var = ((x - mean) * valid).pow(2).sum(1, keepdim=True) / n
            x = (x - mean) / torch.sqrt(var + 1e-5) * valid
        x = x.to(_DTYPES[self.cfg.dtype])

        seqs, layout = self._frontend(x, lens)
        frame_lens = torch.tensor(list(layout.seq_lens), dtype=torch.long)
        captured: dict[int, torch.Tensor] = {0: seqs}

        def hook(layer_idx: int, layer_output: torch.Tensor, layer_output_layout: BatchLayout, num_layers: int) -> bool:
            if layer_idx + 1 in wanted:  # fairseq2's layer_idx is 0-based: block k has layer_idx k - 1
                captured[layer_idx + 1] = layer_output
            return True

        top = wanted[-1]
        if top > 0:
            encoder = self.model.encoder
            full = encoder.layers
            encoder.layers = ModuleList(list(full)[:top])  # the hook cannot stop the stack
            try:
                with encoder.register_layer_hook(hook):
                    encoder(seqs, layout)
            finally:
                encoder.layers = full

        pad = ~(torch.arange(seqs.shape[1])[None] < frame_lens[:, None])
        out = {}
        for k in wanted:
            feats = captured[k].float().cpu().masked_fill(pad[..., None], 0.0)
            out[k] = (feats, frame_lens.clone())
        return out
