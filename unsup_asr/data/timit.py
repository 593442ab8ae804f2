"""TIMIT: utterances, gold phone alignments and the standard splits.

Layouts (names matched case-insensitively):

* LDC: ``root/{TRAIN,TEST}/DR<n>/<SPEAKER>/<UTT>.{WAV,PHN,WRD,TXT}`` (``root`` may also be the
  folder above, e.g. ``timit/TIMIT/TRAIN``). ``.WAV`` is NIST SPHERE, which soundfile reads;
  a ``<UTT>.WAV.wav`` conversion next to it is ignored (and used where the original is absent).
* Flat sample (NLTK's TIMIT sample, ``../shared/data/timit_sample``):
  ``root/dr<n>-<speaker>/<utt>.{wav,phn,wrd,txt}``. Whether a speaker is a TRAIN or TEST speaker
  comes from ``root/spkrinfo.txt`` (column ``Use``); without it, the speakers of the Kaldi dev and
  core-test lists count as TEST and all others as TRAIN (with a warning).

Utterance ids are ``<speaker>_<utt>`` in lower case (``faks0_si1573``); ``extra`` holds
``timit_set`` (train/test), ``dialect`` (dr1..dr8) and ``sentence`` (the prompt id, e.g. ``sx116``:
SX prompts are read by 7 speakers each, SA prompts by all). ``text`` is the ``.TXT`` sentence (its
two sample offsets removed). The SA sentences are dropped unless ``keep_sa``.

Phones: the 61 labels of a ``.PHN`` file (60 phones plus the glottal stop ``q``) fold to Lee & Hon's
48 and 39 classes as in Kaldi's ``egs/timit/s5/conf/phones.60-48-39.map``: ``q`` is deleted;
closures ``bcl dcl gcl`` -> ``vcl`` and ``pcl tcl kcl`` -> ``cl`` (48), both -> ``sil`` (39);
``h# pau`` -> ``sil``; ``epi`` -> ``sil`` (39). ``alignment`` holds ``(start_s, end_s, phone)`` in the
set ``alignment_phones`` (sample offsets / sample rate; a deleted ``q`` lends its time to the segment
before it, or after it when first; with ``merge_repeats`` adjacent segments of the same folded label
become one). ``phones``, the PER reference, is the 39-class sequence **without** ``sil`` and without
merging repeats, i.e. over the 38 non-silence classes. (wav2vec-U's ``prepare_timit.sh`` keeps
``sil`` tokens in its references, so PERs differ slightly.)

Splits (``split_mode``):

* ``matched`` (wav2vec-U / Kaldi): ``train`` = every TRAIN utterance but SA (3696), ``valid`` =
  core-dev, the 400 non-SA utterances of Kaldi's 50 dev speakers, ``test`` = core-test, the 192
  non-SA utterances of the 24 core-test speakers. The unpaired text is ``train``'s transcripts.
* ``unmatched``: TRAIN speakers are cut in two by :func:`unsup_asr.data.splits.split_groups`
  (sha1 of ``seed:speaker``; ``unmatched_text_fraction`` of them, rounded, go to the text side):
  ``train`` = audio of one side, ``train_text`` = transcripts of the other, minus (with
  ``drop_shared_sentences``) every utterance whose prompt is read on the audio side, so no sentence
  is both heard and read. ``valid``/``test`` as in ``matched``. (wav2vec-U's published unmatched
  lists are a random utterance split of TRAIN, SA included; this rule is speaker- and
  sentence-disjoint instead.)
* ``speakers``: every utterance (TRAIN and TEST) split by speaker with ``speaker_split`` fractions;
  for samples, e.g. ``{"test": 1.0}`` makes the whole sample a test set.

``keep_sa`` adds SA sentences to ``train``/``train_text``/``speakers`` splits only: the standard
core sets never contain them. A sample lacks most standard speakers; the preparer then logs the
sizes it found and which standard splits are empty rather than failing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from unsup_asr.data.folder import probe_utterance, read_utf8_lines
from unsup_asr.data.manifest import Utterance
from unsup_asr.data.splits import describe_splits, sort_splits, split_by, split_groups, validate_fractions

logger = logging.getLogger(__name__)

DEV_SPEAKERS = frozenset(
    "faks0 fdac1 fjem0 mgwt0 mjar0 mmdb1 mmdm2 mpdf0 fcmh0 fkms0 mbdg0 mbwm0 mcsh0 fadg0 fdms0 fedw0 mgjf0 "
    "mglb0 mrtk0 mtaa0 mtdt0 mthc0 mwjg0 fnmr0 frew0 fsem0 mbns0 mmjr0 mdls0 mdlf0 mdvc0 mers0 fmah0 fdrw0 "
    "mrcs0 mrjm4 fcal1 mmwh0 fjsj0 majc0 mjsw0 mreb0 fgjd0 fjmg0 mroa0 mteb0 mjfc0 mrjr0 fmml0 mrws1".split()
)
"""The 50 core-dev speakers (TIMIT TEST set): Kaldi ``egs/timit/s5/conf/dev_spk.list``."""
CORE_TEST_SPEAKERS = frozenset(
    "mdab0 mwbt0 felc0 mtas1 mwew0 fpas0 mjmp0 mlnt0 fpkt0 mlll0 mtls0 fjlm0 "
    "mbpm0 mklt0 fnlp0 mcmj0 mjdh0 fmgd0 mgrt0 mnjm0 fdhc0 mjln0 mpam0 fmld0".split()
)
"""The 24 core-test speakers: TIMIT ``testset.doc`` Table 1, the set of Kaldi ``conf/test_spk.list``."""
STANDARD_SIZES = {"train": 3696, "valid": 400, "test": 192}
"""Utterances per split of the matched setup on the full corpus (SA sentences dropped)."""

PHONES_61 = tuple(
    "aa ae ah ao aw ax ax-h axr ay b bcl ch d dcl dh dx eh el em en eng epi er ey f g gcl h# hh hv ih ix "
    "iy jh k kcl l m n ng nx ow oy p pau pcl q r s sh t tcl th uh uw ux v w y z zh".split()
)
"""The labels of TIMIT ``.PHN`` files."""
_PHONES = frozenset(PHONES_61)
_TO_48 = dict(
    rule.split(">")
    for rule in "ax-h>ax axr>er bcl>vcl dcl>vcl gcl>vcl pcl>cl tcl>cl kcl>cl em>m eng>ng h#>sil pau>sil hv>hh "
    "nx>n ux>uw".split()
)
"""61 -> 48 where the label changes (``q`` is deleted separately)."""
_48_TO_39 = dict(rule.split(">") for rule in "ao>aa ax>ah ix>ih el>l en>n zh>sh vcl>sil cl>sil epi>sil".split())
"""48 -> 39 where the label changes."""
PHONE_SETS = ("61", "48", "39")
"""Phone sets an alignment can be given in."""
SILENCE = "sil"
"""The silence class of the 48 and 39 sets."""
SPLIT_MODES = ("matched", "unmatched", "speakers")
"""Accepted values of :attr:`TimitConfig.split_mode`."""
END_TOLERANCE_S = 0.01
"""A ``.PHN`` end past the audio by at most this (s) is clipped; more is an error."""


def fold_phone(phone: str, phone_set: str) -> str | None:
    """Map a 61-set TIMIT label to ``phone_set`` (``61`` = unchanged); ``None`` means deleted (``q``)."""
    if phone not in _PHONES:
        raise ValueError(f"{phone!r} is not a TIMIT phone label ({' '.join(PHONES_61)})")
    if phone_set == "61":
        return phone
    if phone_set not in PHONE_SETS:
        raise ValueError(f"phone_set={phone_set!r} must be one of {list(PHONE_SETS)}")
    if phone == "q":
        return None
    p48 = _TO_48.get(phone, phone)
    return p48 if phone_set == "48" else _48_TO_39.get(p48, p48)


def phone_inventory(phone_set: str) -> list[str]:
    """The sorted labels of ``phone_set`` (61, 48 or 39 labels; the 48 and 39 sets include ``sil``)."""
    return sorted({p for p in (fold_phone(x, phone_set) for x in PHONES_61) if p is not None})


def read_phn(path: str | Path) -> list[tuple[int, int, str]]:
    """``(start, end, label)`` rows of a ``.PHN`` file, in **samples**; zero-length rows are dropped.

    Raises ValueError naming the file and line for a malformed row, an unknown label, a negative or
    reversed span, or rows out of time order.
    """
    rows: list[tuple[int, int, str]] = []
    prev_start = 0
    for lineno, line in enumerate(read_utf8_lines(path), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3 or not (parts[0].isdigit() and parts[1].isdigit()):
            raise ValueError(f"{path}:{lineno}: expected 'start_sample end_sample phone', got {line!r}")
        start, end, label = int(parts[0]), int(parts[1]), parts[2].lower()
        if label not in _PHONES:
            raise ValueError(f"{path}:{lineno}: unknown TIMIT phone {parts[2]!r}")
        if end < start or start < prev_start:
            raise ValueError(f"{path}:{lineno}: segment {start}-{end} is reversed or out of time order")
        prev_start = start
        if end > start:
            rows.append((start, end, label))
    if not rows:
        raise ValueError(f"{path}: no phone segments")
    return rows


def fold_alignment(
    rows: list[tuple[int, int, str]], phone_set: str, *, merge_repeats: bool = True
) -> list[tuple[int, int, str]]:
    """Fold ``.PHN`` rows (samples) to ``phone_set``; a deleted ``q`` extends the previous segment (or
    the next one when it comes first); with ``merge_repeats`` adjacent equal labels become one."""
    out: list[tuple[int, int, str]] = []
    pending_start: int | None = None
    for start, end, label in rows:
        folded = fold_phone(label, phone_set)
        if folded is None:
            if out:
                out[-1] = (out[-1][0], end, out[-1][2])
            elif pending_start is None:
                pending_start = start
            continue
        if pending_start is not None:
            start, pending_start = pending_start, None
        if merge_repeats and out and out[-1][2] == folded:
            out[-1] = (out[-1][0], end, folded)
        else:
            out.append((start, end, folded))
    return out


def reference_phones(rows: list[tuple[int, int, str]]) -> list[str]:
    """The PER reference: 39-class labels of ``rows`` without ``q`` and ``sil``, repeats kept."""
    return [p for p in (fold_phone(label, "39") for _, _, label in rows) if p is not None and p != SILENCE]


@dataclass(kw_only=True)
class TimitConfig:
    """Where TIMIT is and which splits to make of it."""

    root: str
    """TIMIT folder: LDC layout (``TRAIN``/``TEST`` inside, or one level further down) or the flat
    sample layout (``dr<n>-<speaker>`` folders)."""
    split_mode: str = "matched"
    """``matched``, ``unmatched`` or ``speakers`` (see the module docstring)."""
    keep_sa: bool = False
    """Keep the SA sentences (read by every speaker) in the training-side splits."""
    alignment_phones: str = "39"
    """Phone set of ``alignment``: ``61`` (raw, ``q`` kept), ``48`` or ``39``."""
    merge_repeats: bool = True
    """Merge adjacent alignment segments with the same folded label (e.g. ``pau`` + ``bcl`` -> one
    ``sil`` in the 39 set)."""
    skip_unlabelled: bool = False
    """Skip (and count) audio without a ``.PHN`` file instead of raising ValueError."""
    unmatched_text_fraction: float = 0.5
    """``unmatched``: fraction of TRAIN speakers whose transcripts form ``train_text``."""
    drop_shared_sentences: bool = True
    """``unmatched``: drop ``train_text`` utterances whose prompt is also read on the audio side."""
    speaker_split: dict[str, float] = field(default_factory=lambda: {"train": 0.0, "valid": 0.0, "test": 1.0})
    """``speakers``: split name -> fraction of speakers (summing to 1)."""
    seed: int = 0
    """Seed of the speaker hash in ``unmatched`` and ``speakers`` modes."""

    def validate(self) -> None:
        """Raise ValueError if a field is out of range."""
        if not self.root:
            raise ValueError("timit: root must name the TIMIT folder")
        if self.split_mode not in SPLIT_MODES:
            raise ValueError(f"timit: split_mode={self.split_mode!r} must be one of {list(SPLIT_MODES)}")
        if self.alignment_phones not in PHONE_SETS:
            raise ValueError(f"timit: alignment_phones={self.alignment_phones!r} must be one of {list(PHONE_SETS)}")
        if not 0.0 < self.unmatched_text_fraction < 1.0:
            raise ValueError(f"timit: unmatched_text_fraction={self.unmatched_text_fraction} must be in (0, 1)")
        validate_fractions(self.speaker_split, what="timit: speaker_split")
        if not self.speaker_split:
            raise ValueError("timit: speaker_split must name at least one split")


class TimitFile(NamedTuple):
    """The files of one TIMIT utterance as found on disk."""

    speaker: str
    """Speaker id, lower case (``faks0``)."""
    utt: str
    """Prompt id, lower case (``sa1``, ``si1573``, ``sx116``)."""
    dialect: str
    """Dialect region folder, lower case (``dr1``)."""
    timit_set: str
    """``train`` or ``test``."""
    wav: Path
    """Audio file."""
    phn: Path | None
    """Phone label file, if present."""
    txt: Path | None
    """Sentence file, if present."""


_FILE = re.compile(r"^(s[aix]\d+)\.(wav|phn|txt|wrd)(\.wav)?$")
_FLAT_DIR = re.compile(r"^(dr\d)-(\w+)$")


def _speaker_files(spk_dir: Path) -> dict[str, dict[str, Path]]:
    """utt -> {"wav"|"phn"|"txt"|"wav.wav": path} for the TIMIT files of one speaker folder."""
    files: dict[str, dict[str, Path]] = {}
    for p in spk_dir.iterdir():
        m = _FILE.match(p.name.lower())
        if m is None or (m.group(3) and m.group(2) != "wav"):
            continue
        files.setdefault(m.group(1), {})[m.group(2) + (m.group(3) or "")] = p
    return files


def _entries(spk_dir: Path, speaker: str, dialect: str, timit_set: str) -> list[TimitFile]:
    out = []
    for utt, f in sorted(_speaker_files(spk_dir).items()):
        wav = f.get("wav") or f.get("wav.wav")
        if wav is not None:
            out.append(TimitFile(speaker, utt, dialect, timit_set, wav, f.get("phn"), f.get("txt")))
    return out


def _subdirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir())


def _spkrinfo_sets(root: Path) -> dict[str, str]:
    """speaker -> train/test from a ``spkrinfo.txt`` at ``root`` (empty when absent)."""
    info = next((p for p in root.iterdir() if p.name.lower() == "spkrinfo.txt"), None)
    sets: dict[str, str] = {}
    if info is None:
        return sets
    for line in read_utf8_lines(info):
        parts = line.split()
        if len(parts) >= 4 and not line.startswith(";") and parts[3] in ("TRN", "TST"):
            sets[parts[1].lower() + parts[0].lower()] = "train" if parts[3] == "TRN" else "test"
    return sets


def find_timit_files(root: Path) -> list[TimitFile]:
    """Every TIMIT utterance file under ``root`` (either layout), with speaker, set and dialect."""
    for base in [root, *_subdirs(root)]:
        set_dirs = [d for d in _subdirs(base) if d.name.lower() in ("train", "test")]
        if set_dirs:
            return [
                e
                for set_dir in set_dirs
                for dr in _subdirs(set_dir)
                if re.fullmatch(r"dr\d", dr.name.lower())
                for spk in _subdirs(dr)
                for e in _entries(spk, spk.name.lower(), dr.name.lower(), set_dir.name.lower())
            ]
    flat = [(d, _FLAT_DIR.match(d.name.lower())) for d in _subdirs(root)]
    flat_dirs = [(d, m.group(1), m.group(2)) for d, m in flat if m is not None]
    if not flat_dirs:
        raise ValueError(
            f"timit: {root} has neither TRAIN/TEST folders (LDC layout) nor dr<n>-<speaker> folders (sample layout)"
        )
    sets = _spkrinfo_sets(root)
    unknown = [s for _, _, s in flat_dirs if s not in sets and s not in DEV_SPEAKERS | CORE_TEST_SPEAKERS]
    if unknown:
        logger.warning(
            "timit: %d speakers of %s (e.g. %s) are neither in a spkrinfo.txt there nor in the dev/core-test lists; "
            "they count as TRAIN speakers",
            len(unknown),
            root,
            unknown[0],
        )
    default = {s: "test" for s in DEV_SPEAKERS | CORE_TEST_SPEAKERS}
    return [e for d, dr, s in flat_dirs for e in _entries(d, s, dr, sets.get(s, default.get(s, "train")))]


def _read_text(path: Path) -> str:
    lines = [line for line in read_utf8_lines(path) if line.strip()]
    parts = lines[0].split(maxsplit=2) if lines else []
    if len(parts) != 3 or not (parts[0].isdigit() and parts[1].isdigit()):
        raise ValueError(f"{path}:1: expected 'start_sample end_sample sentence'")
    return parts[2].strip()


def _audio(e: TimitFile) -> Utterance:
    try:
        return probe_utterance(f"{e.speaker}_{e.utt}", e.wav, speaker=e.speaker)
    except ValueError as err:
        with e.wav.open("rb") as f:
            if b"shorten" in f.read(1024):
                raise ValueError(
                    f"{e.wav} is shorten-compressed NIST SPHERE, which libsndfile cannot read; "
                    "decompress TIMIT first (e.g. `sph2pipe -f wav in.WAV out.WAV`)"
                ) from err
        raise


def _utterance(e: TimitFile, phn: Path, cfg: TimitConfig) -> Utterance:
    utt = _audio(e)
    rows = read_phn(phn)
    if rows[-1][1] > utt.num_samples + END_TOLERANCE_S * utt.sample_rate:
        raise ValueError(f"{phn}: phones end at sample {rows[-1][1]} but {e.wav} has {utt.num_samples} samples")
    rows = [(s, min(t, utt.num_samples), p) for s, t, p in rows if s < utt.num_samples]
    sr = utt.sample_rate
    utt.alignment = [
        (s / sr, t / sr, p) for s, t, p in fold_alignment(rows, cfg.alignment_phones, merge_repeats=cfg.merge_repeats)
    ]
    utt.phones = reference_phones(rows)
    utt.text = _read_text(e.txt) if e.txt is not None else None
    utt.extra = {"timit_set": e.timit_set, "dialect": e.dialect, "sentence": e.utt}
    return utt


def _standard(utts: list[Utterance], cfg: TimitConfig) -> dict[str, list[Utterance]]:
    def non_sa(u: Utterance) -> bool:
        return not u.extra["sentence"].startswith("sa")

    train = [u for u in utts if u.extra["timit_set"] == "train" and (cfg.keep_sa or non_sa(u))]
    test_side = [u for u in utts if u.extra["timit_set"] == "test" and non_sa(u)]
    valid = [u for u in test_side if u.speaker in DEV_SPEAKERS]
    test = [u for u in test_side if u.speaker in CORE_TEST_SPEAKERS]
    if cfg.split_mode == "matched":
        return {"train": train, "valid": valid, "test": test}
    fractions = {"train": 1.0 - cfg.unmatched_text_fraction, "train_text": cfg.unmatched_text_fraction}
    side = split_groups((u.speaker for u in train), fractions, cfg.seed)
    audio = [u for u in train if side[u.speaker] == "train"]
    text = [u for u in train if side[u.speaker] == "train_text"]
    if cfg.drop_shared_sentences:
        heard = {u.extra["sentence"] for u in audio}
        text = [u for u in text if u.extra["sentence"] not in heard]
    return {"train": audio, "train_text": text, "valid": valid, "test": test}


def prepare_timit(cfg: TimitConfig) -> dict[str, list[Utterance]]:
    """TIMIT utterances with text, PER phones and alignments, split by ``cfg.split_mode``.

    Raises ValueError when ``root`` holds no TIMIT utterances, a ``.WAV`` lacks its ``.PHN`` (unless
    ``skip_unlabelled``) or a label file is malformed; logs each split's size and warns when a
    standard split is empty (a sample of TIMIT) or its size differs from :data:`STANDARD_SIZES`.
    """
    cfg.validate()
    root = Path(cfg.root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"timit: {root} is not a folder")
    entries = find_timit_files(root)
    unlabelled = [e for e in entries if e.phn is None]
    if unlabelled and not cfg.skip_unlabelled:
        raise ValueError(
            f"timit: {unlabelled[0].wav} has no .PHN file next to it ({len(unlabelled)} such audio files); "
            "restore the label files or set skip_unlabelled=True"
        )
    if unlabelled:
        logger.warning("timit: skipped %d audio files without .PHN (e.g. %s)", len(unlabelled), unlabelled[0].wav)
    utts = [_utterance(e, e.phn, cfg) for e in entries if e.phn is not None]
    if not utts:
        raise ValueError(f"timit: no TIMIT utterances (<utt>.wav + .phn) found under {root}")
    if cfg.split_mode == "speakers":
        kept = [u for u in utts if cfg.keep_sa or not u.extra["sentence"].startswith("sa")]
        splits = split_by(kept, cfg.speaker_split, by="speaker", seed=cfg.seed)
    else:
        splits = sort_splits(_standard(utts, cfg))
        _report(splits, utts, cfg, root)
    logger.info("timit %s (%s):\n%s", root, cfg.split_mode, describe_splits(splits))
    return splits


def _report(splits: dict[str, list[Utterance]], utts: list[Utterance], cfg: TimitConfig, root: Path) -> None:
    speakers = {u.speaker: u.extra["timit_set"] for u in utts}
    n_train = sum(1 for s in speakers.values() if s == "train")
    found = f"{len(speakers)} speakers ({n_train} TRAIN, {len(speakers) - n_train} TEST; full TIMIT: 462 + 168)"
    empty = [name for name, us in splits.items() if not us]
    if empty:
        logger.warning(
            "timit: %s has %s; standard split(s) %s are empty (core-dev/core-test need Kaldi's 50 dev and the 24 "
            "core-test TEST speakers). For a sample, split_mode='speakers' splits its own speakers.",
            root,
            found,
            ", ".join(empty),
        )
    elif cfg.split_mode == "matched" and not cfg.keep_sa:
        off = {k: len(splits[k]) for k, n in STANDARD_SIZES.items() if len(splits[k]) != n}
        if off:
            logger.warning(
                "timit: %s has %s; split sizes %s differ from the standard %s", root, found, off, STANDARD_SIZES
            )
