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

Dropout is inactive (eval mode). This matches fairseq's ``extract_features(..., layer=k)``, so
wav2vec-U's ``--layer 14`` is our 15. For pre-LN models, HuggingFace's last ``hidden_states`` entry
has the final LayerNorm applied and ours does not; every other layer agrees.

Padding: the CNN of ``base``/``large`` starts with a GroupNorm over time, whose statistics would see
the zero padding, so for those models the CNN runs one utterance at a time (exact, slower); models
with per-frame LayerNorm convolutions (``large_lv60k``) run it batched. The transformer always runs
batched with fairseq2's ``BatchLayout`` padding mask.

Checkpoints (``W2v2Config.checkpoint``):

* **a path** to a ``.pt`` file: a fairseq2 wav2vec 2.0 checkpoint (a state dict, optionally under
  ``"model"``) or an **original fairseq** wav2vec 2.0 pre-training checkpoint; fairseq2's
  ``convert_wav2vec2_state_dict`` (applied by the wav2vec2 model family) renames the keys. The model
  is built from ``arch`` plus ``config_overrides``. fairseq checkpoints pickle their training
  arguments, so they need ``allow_pickle=True`` (only for files you trust).
* **an asset card name** (e.g. ``wav2vec2_large_lv60k``), looked up in ``card_dir`` if set, else
  in fairseq2's asset store. Its ``checkpoint`` field must be a local path or ``file://`` URI for
  offline use (relative paths are relative to the card file).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.nn import ModuleList

if TYPE_CHECKING:  # fairseq2 is imported where it is used, so registering "w2v2" costs nothing
    from fairseq2.assets import AssetCard
    from fairseq2.models.wav2vec2 import Wav2Vec2Model
    from fairseq2.nn import BatchLayout

from unsup_asr.features.featurizer import FEATURIZERS, Featurizer

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(kw_only=True)
class W2v2Config:
    """Configuration of the fairseq2 wav2vec 2.0 featurizer."""

    name: str = "w2v2"
    """Registry name of the featurizer."""
    checkpoint: str = ""
    """A local ``.pt`` path (fairseq2 or original fairseq wav2vec 2.0 checkpoint, built with
    ``arch``) or a fairseq2 asset card name (looked up in ``card_dir``, else fairseq2's asset store)."""
    card_dir: str | None = None
    """Folder of fairseq2 asset card YAML files in which to look up ``checkpoint`` as a card name."""
    arch: str = "large_lv60k"
    """fairseq2 wav2vec2 architecture (``base``, ``large``, ``large_lv60k``) used with a path."""
    config_overrides: dict[str, Any] = field(default_factory=dict)
    """Nested overrides of the arch config, as in a card's ``model_config_overrides``
    (e.g. ``{"encoder_config": {"num_encoder_layers": 3}}``); only with a path."""
    allow_pickle: bool = False
    """Unpickle arbitrary objects from the checkpoint (needed for original fairseq checkpoints;
    only for trusted files)."""
    device: str = "cpu"
    """Torch device, e.g. ``cpu`` or ``cuda:0``."""
    dtype: str = "float32"
    """Compute dtype: ``float32``, ``float16`` or ``bfloat16``; outputs are always float32."""
    normalize_waveform: bool = True
    """Normalise each waveform to zero mean, unit variance over its valid samples (required by
    ``large_lv60k``-style models trained with ``normalize: true``; fairseq's ``base`` was not)."""

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
    from fairseq2.assets import AssetCard
    from fairseq2.models.wav2vec2 import Wav2Vec2Config, get_wav2vec2_model_hub

    hub = get_wav2vec2_model_hub()
    device, dtype = torch.device(cfg.device), _DTYPES[cfg.dtype]
    if _is_path(cfg.checkpoint):
        path = Path(cfg.checkpoint).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"wav2vec 2.0 checkpoint {path} not found: set features.checkpoint to an existing .pt file "
                "(fairseq2 or fairseq wav2vec 2.0) or to an asset card name with features.card_dir"
            )
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
    return model.eval().requires_grad_(False)


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
        self.model = model if model is not None else load_wav2vec2(cfg)
        self.model.eval()
        self.num_layers = len(self.model.encoder.layers)
        self.dim = self.model.model_dim
        self.frame_shift_s = 0.02
        self._per_utt_cnn = _cnn_sees_padding(self.model)

    def cache_config(self) -> dict[str, Any]:
        import fairseq2

        conf = asdict(self.cfg)
        del conf["device"]  # does not change the features (beyond numerical noise)
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
        if self.cfg.normalize_waveform:
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
