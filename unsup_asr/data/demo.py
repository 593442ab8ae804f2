"""The embedded demo corpus: multi-voice synthetic English speech with exact phone boundaries.

Sentences from the public-domain text shipped in ``recipes/demo/text`` (or any folder of
one-sentence-per-line ``*.txt`` / ``*.txt.gz`` files) are split *by sentence* into train / valid /
test audio and a disjoint set of unpaired text sentences for the GAN. Each audio sentence is
spoken by espeak-ng (:mod:`unsup_asr.data.espeak`) with a voice taken round-robin from
``voices`` and a seeded random rate and pitch, resampled to ``sample_rate`` and written as 16-bit
WAV. Its gold phones and phone boundaries come from espeak's phoneme events and use the same phone
set as :func:`unsup_asr.text.phonemize.phonemize_words` applied to the unpaired text.

Output folder::

    out_dir/wav/<utt_id>.wav
    out_dir/{train,valid,test}.jsonl     manifests (audio paths relative to out_dir)
    out_dir/unpaired.txt                 unpaired sentences, orthographic, one per line
    out_dir/.done                        written last: the config and a hash of the text

The build is deterministic (same config and text give byte-identical manifests and audio, for any
``num_workers``) and cached: a finished folder built with the same config is reused, one built
with another config is refused, and an unfinished one is rebuilt from scratch.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import multiprocessing
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly
from tqdm import tqdm

from unsup_asr.data.espeak import PITCH_RANGE, RATE_RANGE_WPM, synthesize
from unsup_asr.data.manifest import Utterance, write_manifest
from unsup_asr.io import DONE, atomic_write_text, is_done, mark_done
from unsup_asr.text.phonemize import normalize_text

logger = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
"""The audio splits of the demo corpus, in the order their sentences are drawn."""
DEFAULT_TEXT_DIR = Path(__file__).resolve().parents[2] / "recipes" / "demo" / "text"
"""The public-domain sentence sample shipped with the repository."""


@dataclass(kw_only=True)
class DemoCorpusConfig:
    """What to synthesize for the demo corpus."""

    text_dir: str = ""
    """Folder of ``*.txt`` / ``*.txt.gz`` files, one sentence per line; ``""`` = the sample shipped
    in ``recipes/demo/text``."""
    seed: int = 0
    """Seed of the sentence shuffle and of each utterance's rate and pitch."""
    num_train: int = 1200
    """Number of training utterances (audio)."""
    num_valid: int = 150
    """Number of validation utterances (audio)."""
    num_test: int = 200
    """Number of test utterances (audio)."""
    num_unpaired_text: int = 20000
    """Number of unpaired text sentences for the GAN, disjoint from every audio sentence."""
    min_words: int = 4
    """Sentences with fewer words are skipped."""
    max_words: int = 16
    """Sentences with more words are skipped."""
    voices: list[str] = field(default_factory=lambda: ["en-us+m1", "en-us+f2", "en-us+m3", "en-us+f4"])
    """espeak-ng voices (with variants), assigned round-robin within each split; each is a speaker."""
    rate_range: list[int] = field(default_factory=lambda: [150, 190])
    """``[low, high]`` speaking rate in words per minute, drawn uniformly per utterance."""
    pitch_range: list[int] = field(default_factory=lambda: [35, 65])
    """``[low, high]`` espeak base pitch (0-100, 50 = the voice's normal), drawn uniformly per utterance."""
    sample_rate: int = 16000
    """Sample rate of the written WAV files in Hz (espeak's 22050 Hz audio is resampled)."""

    def validate(self) -> None:
        """Raise ValueError if a field is out of range."""
        for name in ("num_train", "num_valid", "num_test", "num_unpaired_text", "min_words"):
            if getattr(self, name) < 1:
                raise ValueError(f"demo corpus: {name}={getattr(self, name)} must be >= 1")
        if self.max_words < self.min_words:
            raise ValueError(f"demo corpus: max_words={self.max_words} is below min_words={self.min_words}")
        if not self.voices or len(set(self.voices)) != len(self.voices):
            raise ValueError(f"demo corpus: voices={self.voices} must be a non-empty list without duplicates")
        for name, allowed in (("rate_range", RATE_RANGE_WPM), ("pitch_range", PITCH_RANGE)):
            lo_hi = list(getattr(self, name))
            if len(lo_hi) != 2 or not allowed[0] <= lo_hi[0] <= lo_hi[1] <= allowed[1]:
                raise ValueError(f"demo corpus: {name}={lo_hi} must be [low, high] within {list(allowed)}")
        if not 8000 <= self.sample_rate <= 48000:
            raise ValueError(f"demo corpus: sample_rate={self.sample_rate} must be in 8000..48000 Hz")


@dataclass(frozen=True)
class DemoCorpus:
    """A built demo corpus."""

    root: Path
    """The output folder."""
    manifests: dict[str, Path]
    """Manifest path per split (``train``, ``valid``, ``test``)."""
    unpaired_text: Path
    """Unpaired sentences, one per line."""


@dataclass(frozen=True)
class _Job:
    """One utterance to synthesize."""

    utt_id: str
    text: str
    voice: str
    rate_wpm: int
    pitch: int
    wav_path: Path
    sample_rate: int


def _text_files(cfg: DemoCorpusConfig) -> list[Path]:
    folder = Path(cfg.text_dir) if cfg.text_dir else DEFAULT_TEXT_DIR
    if not folder.is_dir():
        hint = "set text_dir to a folder of one-sentence-per-line .txt files"
        if not cfg.text_dir:
            hint = "the repository checkout is incomplete (restore recipes/demo/text with git) or " + hint
        raise FileNotFoundError(f"demo text folder {folder} does not exist: {hint}")
    files = sorted(p for p in folder.iterdir() if p.name.endswith((".txt", ".txt.gz")))
    if not files:
        raise FileNotFoundError(f"demo text folder {folder} holds no .txt or .txt.gz file; add sentence files")
    return files


def _read_sentences(files: list[Path], cfg: DemoCorpusConfig) -> tuple[list[str], str]:
    """Unique sentences with ``min_words..max_words`` words, in file order, and the text's sha1."""
    sha = hashlib.sha1()
    seen: set[str] = set()
    sentences = []
    for path in files:
        raw = path.read_bytes()
        sha.update(raw)
        text = (gzip.decompress(raw) if path.name.endswith(".gz") else raw).decode("utf-8")
        for line in text.splitlines():
            words = line.split()
            key = normalize_text(line)
            if cfg.min_words <= len(words) <= cfg.max_words and key not in seen:
                seen.add(key)
                sentences.append(" ".join(words))
    return sentences, sha.hexdigest()


def _plan(cfg: DemoCorpusConfig, sentences: list[str], out_dir: Path) -> tuple[dict[str, list[_Job]], list[str]]:
    """Shuffle and split sentences; draw each utterance's voice, rate and pitch."""
    sizes = {"train": cfg.num_train, "valid": cfg.num_valid, "test": cfg.num_test}
    needed = sum(sizes.values()) + cfg.num_unpaired_text
    if len(sentences) < needed:
        raise ValueError(
            f"demo corpus needs {needed} distinct sentences of {cfg.min_words}-{cfg.max_words} words but the text "
            f"has {len(sentences)}: lower num_unpaired_text / num_train, widen min_words..max_words, or add text"
        )
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(len(sentences))
    jobs: dict[str, list[_Job]] = {}
    pos = 0
    for split in SPLITS:
        jobs[split] = []
        for i in range(sizes[split]):
            utt_id = f"{split}_{i:05d}"
            jobs[split].append(
                _Job(
                    utt_id=utt_id,
                    text=sentences[order[pos]],
                    voice=cfg.voices[i % len(cfg.voices)],
                    rate_wpm=int(rng.integers(cfg.rate_range[0], cfg.rate_range[1] + 1)),
                    pitch=int(rng.integers(cfg.pitch_range[0], cfg.pitch_range[1] + 1)),
                    wav_path=out_dir / "wav" / f"{utt_id}.wav",
                    sample_rate=cfg.sample_rate,
                )
            )
            pos += 1
    unpaired = [sentences[k] for k in order[pos : pos + cfg.num_unpaired_text]]
    return jobs, unpaired


def _synthesize_job(job: _Job) -> Utterance:
    """Synthesize one utterance, write its WAV, return its manifest record (audio path relative)."""
    syn = synthesize(normalize_text(job.text), voice=job.voice, rate_wpm=job.rate_wpm, pitch=job.pitch)
    ratio = Fraction(job.sample_rate, syn.sample_rate)
    wav = resample_poly(syn.wav, ratio.numerator, ratio.denominator) if ratio != 1 else syn.wav
    sf.write(str(job.wav_path), np.clip(wav, -1.0, 1.0), job.sample_rate, subtype="PCM_16", format="WAV")
    return Utterance(
        id=job.utt_id,
        audio=f"wav/{job.wav_path.name}",
        sample_rate=job.sample_rate,
        num_samples=len(wav),
        speaker=job.voice,
        text=job.text,
        phones=syn.phones,
        alignment=syn.alignment,
        extra={"rate_wpm": str(job.rate_wpm), "pitch": str(job.pitch)},
    )


def _synthesize_all(jobs: list[_Job], num_workers: int) -> list[Utterance]:
    """Run the jobs (in ``num_workers`` fresh processes if > 1); results in job order."""
    with tqdm(total=len(jobs), desc="demo corpus", unit="utt") as bar:
        if num_workers <= 1:
            results = []
            for job in jobs:
                results.append(_synthesize_job(job))
                bar.update()
            return results
        context = multiprocessing.get_context("spawn")
        try:
            with ProcessPoolExecutor(num_workers, mp_context=context) as pool:
                results = []
                for utt in pool.map(_synthesize_job, jobs, chunksize=16):
                    results.append(utt)
                    bar.update()
                return results
        except BrokenProcessPool as e:
            raise RuntimeError(
                "demo corpus: a synthesis worker process died. If you call build_demo_corpus from a script, "
                "put the call under `if __name__ == '__main__':` (workers re-import the script), or pass "
                "num_workers=1"
            ) from e


def _corpus(out_dir: Path) -> DemoCorpus:
    return DemoCorpus(
        root=out_dir,
        manifests={split: out_dir / f"{split}.jsonl" for split in SPLITS},
        unpaired_text=out_dir / "unpaired.txt",
    )


def _done_info(cfg: DemoCorpusConfig, text_sha1: str) -> dict[str, Any]:
    info: dict[str, Any] = json.loads(json.dumps({"config": asdict(cfg), "text_sha1": text_sha1}))
    return info


def build_demo_corpus(cfg: DemoCorpusConfig, out_dir: str | Path, *, num_workers: int = 2) -> DemoCorpus:
    """Build (or reuse) the demo corpus described by ``cfg`` in ``out_dir``.

    ``num_workers`` synthesis processes are used (the output does not depend on it). Raises
    ValueError if ``out_dir`` already holds a finished corpus built from another config or text.
    """
    cfg.validate()
    if num_workers < 1:
        raise ValueError(f"num_workers={num_workers} must be >= 1")
    out_dir = Path(out_dir)
    files = _text_files(cfg)
    sentences, text_sha1 = _read_sentences(files, cfg)
    info = _done_info(cfg, text_sha1)
    if is_done(out_dir):
        stored = json.loads((out_dir / DONE).read_text(encoding="utf-8"))
        if stored == info:
            logger.info("demo corpus in %s is up to date; reusing it", out_dir)
            return _corpus(out_dir)
        raise ValueError(
            f"{out_dir} holds a demo corpus built from another config or text (see {out_dir / DONE}); "
            "delete that folder to rebuild it, or choose another output folder"
        )
    start = time.perf_counter()
    jobs, unpaired = _plan(cfg, sentences, out_dir)
    shutil.rmtree(out_dir / "wav", ignore_errors=True)
    (out_dir / "wav").mkdir(parents=True)
    all_jobs = [job for split in SPLITS for job in jobs[split]]
    utts = iter(_synthesize_all(all_jobs, num_workers))
    corpus = _corpus(out_dir)
    seconds = 0.0
    for split in SPLITS:
        split_utts = [next(utts) for _ in jobs[split]]
        seconds += sum(u.duration_s for u in split_utts)
        write_manifest(corpus.manifests[split], split_utts)
    atomic_write_text(corpus.unpaired_text, "".join(s + "\n" for s in unpaired))
    mark_done(out_dir, info)
    logger.info(
        "demo corpus in %s: %s utterances (%.2f h of audio), %d unpaired sentences, built in %.1f s",
        out_dir,
        "/".join(f"{len(jobs[s])} {s}" for s in SPLITS),
        seconds / 3600,
        len(unpaired),
        time.perf_counter() - start,
    )
    return corpus
