"""Frame-level features: featurizers, caching and unit conversion."""

from unsup_asr.features import (
    hf,  # noqa: F401 - registers "hf" in the "features" group (transformers loads lazily)
    ssl,  # noqa: F401 - registers "ssl" (the library's own SSL model, `uasr ssl-pretrain`)
    w2v2,  # noqa: F401 - registers "w2v2" in the "features" group (fairseq2 loads lazily)
)
