"""A synthetic decipherment task: can the GAN learn a phone mapping from unpaired data alone?

Phone sequences come from a seeded random phone language model:

* ``num_phones`` phones plus ``<SIL>``; a Zipf-like phone unigram and a sparse Dirichlet phone
  bigram (no immediate repeats) generate a lexicon of ``num_words`` words of 2-8 phones;
* a sentence is ``<SIL>``, then Zipf-distributed words separated by ``<SIL>`` with probability
  ``sil_prob``, then ``<SIL>``; it stops once it holds at least a target number of segments
  drawn uniformly from ``[min_len, max_len]``. A word whose first phone repeats the previous
  word's last phone is always preceded by ``<SIL>``, so no two adjacent segments share a phone.

The "audio" side of an utterance is one segment per phone (gold boundaries): the segment's
feature is ``E[perm[phone]] + noise_std * N(0, I)``, with ``E`` a fixed random ``(V, dim)``
embedding and ``perm`` a random permutation of the vocabulary unknown to the model, then
standardised per dimension with the training set's statistics. The unpaired text is drawn from
the same language model but is a different set of sentences. Test utterances keep their labels
(for PER only); validation utterances are meant to be used without labels (model selection).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIL = "<SIL>"


@dataclass(kw_only=True)
class DecipherConfig:
    """Size and difficulty of the synthetic decipherment task."""

    num_phones: int = 40
    """Number of phones, not counting ``<SIL>``."""
    num_words: int = 600
    """Lexicon size."""
    dim: int = 64
    """Segment feature dimension D."""
    noise_std: float = 1.75
    """Standard deviation of the Gaussian noise added to the unit-variance phone embeddings."""
    sil_prob: float = 0.25
    """Probability of ``<SIL>`` between two words (wav2vec-U's ``phonemize_with_sil -s``)."""
    min_len: int = 10
    """Minimum utterance length in segments (phones and silences)."""
    max_len: int = 40
    """Maximum target utterance length in segments (the last word may overshoot it)."""
    num_train: int = 2000
    """Training audio utterances (unlabelled)."""
    num_valid: int = 200
    """Validation audio utterances (unlabelled; for model selection)."""
    num_test: int = 200
    """Test audio utterances (labelled; for PER only)."""
    num_text: int = 4000
    """Unpaired text sentences."""
    seed: int = 0
    """Seed of the language model, embeddings, permutation and samples."""

    def validate(self) -> None:
        """Raise ValueError on inconsistent settings."""
        if self.num_phones < 2 or self.num_words < 1 or self.dim < 1:
            raise ValueError("DecipherConfig: num_phones >= 2, num_words >= 1 and dim >= 1 are required")
        if self.noise_std < 0 or not 0 <= self.sil_prob <= 1:
            raise ValueError("DecipherConfig: noise_std must be >= 0 and sil_prob in [0, 1]")
        if not 3 <= self.min_len <= self.max_len:
            raise ValueError(f"DecipherConfig: need 3 <= min_len <= max_len, got {self.min_len}, {self.max_len}")
        if min(self.num_train, self.num_valid, self.num_test, self.num_text) < 1:
            raise ValueError("DecipherConfig: every split needs at least one utterance")


@dataclass(kw_only=True)
class DecipherTask:
    """The generated task. Phone ids index ``vocab``; feature arrays are float32 ``(S_i, dim)``."""

    vocab: list[str]
    """Phone inventory, ``<SIL>`` last."""
    train: list[np.ndarray]
    """Training segment features, one ``(S_i, dim)`` array per utterance (train without labels)."""
    train_labels: list[np.ndarray]
    """Gold phone ids of the training segments (for supervised diagnostics only)."""
    valid: list[np.ndarray]
    """Validation segment features (select models without their labels)."""
    valid_labels: list[np.ndarray]
    """Gold phone ids of the validation segments (for logging PER during training only)."""
    test: list[np.ndarray]
    """Test segment features."""
    test_labels: list[np.ndarray]
    """Gold phone ids ``(S_i,)`` of the test segments (evaluation only)."""
    text: list[np.ndarray]
    """Unpaired phone-id sentences (int64), different from the audio sentences."""

    def ids_to_phones(self, ids: np.ndarray, *, drop_silence: bool = True) -> list[str]:
        """Phone strings of an id sequence, without ``<SIL>`` unless ``drop_silence`` is False."""
        phones = [self.vocab[int(i)] for i in ids]
        return [p for p in phones if p != SIL] if drop_silence else phones


def _zipf(n: int, exponent: float, offset: float, rng: np.random.Generator) -> np.ndarray:
    """A Zipf-like distribution over ``n`` items, in random order."""
    p = 1.0 / (np.arange(n) + offset) ** exponent
    return rng.permutation(p / p.sum())


def _lexicon(cfg: DecipherConfig, rng: np.random.Generator) -> list[np.ndarray]:
    """``num_words`` distinct words (phone-id arrays) from a sparse bigram phone model."""
    n = cfg.num_phones
    unigram = _zipf(n, 1.0, 2.0, rng)
    bigram = rng.dirichlet(0.3 * n * unigram + 1e-3, size=n)
    np.fill_diagonal(bigram, 0.0)
    bigram /= bigram.sum(axis=1, keepdims=True)
    words: dict[tuple[int, ...], None] = {}
    while len(words) < cfg.num_words:
        length = int(np.clip(2 + rng.poisson(2.0), 2, 8))
        word = [int(rng.choice(n, p=unigram))]
        while len(word) < length:
            word.append(int(rng.choice(n, p=bigram[word[-1]])))
        words.setdefault(tuple(word), None)
    return [np.array(w, dtype=np.int64) for w in words]


def _sentences(
    count: int, lexicon: list[np.ndarray], word_p: np.ndarray, cfg: DecipherConfig, rng: np.random.Generator
) -> list[np.ndarray]:
    """``count`` sentences of phone ids with ``<SIL>`` (id ``num_phones``) between some words."""
    sil = cfg.num_phones
    out = []
    for _ in range(count):
        target = int(rng.integers(cfg.min_len, cfg.max_len + 1))
        seq = [sil]
        while len(seq) < target - 1:
            word = lexicon[int(rng.choice(len(lexicon), p=word_p))]
            if len(seq) > 1 and (rng.random() < cfg.sil_prob or seq[-1] == word[0]):
                seq.append(sil)
            seq.extend(int(w) for w in word)
        seq.append(sil)
        out.append(np.array(seq, dtype=np.int64))
    return out


def make_decipher_task(cfg: DecipherConfig) -> DecipherTask:
    """Generate the task described in the module docstring (deterministic given ``cfg.seed``)."""
    cfg.validate()
    rng = np.random.default_rng(cfg.seed)
    vocab = [f"p{i:02d}" for i in range(cfg.num_phones)] + [SIL]
    lexicon = _lexicon(cfg, rng)
    word_p = _zipf(len(lexicon), 1.0, 2.0, rng)
    num_audio = cfg.num_train + cfg.num_valid + cfg.num_test
    labels = _sentences(num_audio, lexicon, word_p, cfg, rng)
    text = _sentences(cfg.num_text, lexicon, word_p, cfg, rng)

    embedding = rng.standard_normal((len(vocab), cfg.dim))
    perm = rng.permutation(len(vocab))
    feats = [embedding[perm[y]] + cfg.noise_std * rng.standard_normal((len(y), cfg.dim)) for y in labels]
    stacked = np.concatenate(feats[: cfg.num_train])
    mean, std = stacked.mean(axis=0), stacked.std(axis=0) + 1e-8
    feats32 = [((f - mean) / std).astype(np.float32) for f in feats]

    a, b = cfg.num_train, cfg.num_train + cfg.num_valid
    return DecipherTask(
        vocab=vocab,
        train=feats32[:a],
        train_labels=labels[:a],
        valid=feats32[a:b],
        valid_labels=labels[a:b],
        test=feats32[b:],
        test_labels=labels[b:],
        text=text,
    )
