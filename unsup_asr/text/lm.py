"""KenLM n-gram language models: building (``lmplz``/``build_binary``) and scoring.

This is the only module that imports :mod:`kenlm`. Sentences are sequences of tokens (phones or
words) without ``<s>``/``</s>``; scores are base-10 log probabilities, as KenLM returns them.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import kenlm

from unsup_asr.io import atomic_write

logger = logging.getLogger(__name__)

_SETUP_HINT = "run `bash scripts/setup.sh` (it builds lmplz and build_binary into .venv/bin)"


def _tool_dirs() -> list[Path]:
    """Folders searched for the KenLM binaries, in order: the venv's bin, then ``$PATH``."""
    dirs = [Path(sys.executable).parent]
    dirs += [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    return dirs


def find_kenlm_tool(name: str) -> Path:
    """Path of the KenLM binary ``name`` (``lmplz`` or ``build_binary``).

    Looks next to ``sys.executable`` (the virtual environment's ``bin``) first, then on ``PATH``.
    """
    dirs = _tool_dirs()
    for folder in dirs:
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    looked = ", ".join(str(d) for d in dirs)
    raise RuntimeError(f"kenlm's `{name}` not found (looked in {looked}): {_SETUP_HINT}")


def _run(cmd: list[str], *, stdin_path: Path | None = None, stdout_path: Path | None = None) -> None:
    """Run a KenLM binary; raise RuntimeError with the tail of its stderr if it fails."""
    with ExitStack() as stack:
        stdin = stack.enter_context(open(stdin_path, "rb")) if stdin_path else subprocess.DEVNULL
        stdout = stack.enter_context(open(stdout_path, "wb")) if stdout_path else subprocess.DEVNULL
        proc = subprocess.run(cmd, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.decode("utf-8", "replace").strip().splitlines()[-15:])
        raise RuntimeError(f"`{' '.join(cmd)}` failed with exit code {proc.returncode}:\n{tail}")


def _has_text(path: Path) -> bool:
    """True if ``path`` holds at least one non-blank line (stops at the first one)."""
    with open(path, encoding="utf-8") as f:
        return any(line.strip() for line in f)


def build_lm(
    text_path: Path,
    out_prefix: Path,
    *,
    order: int,
    discount_fallback: bool = True,
    prune: list[int] | None = None,
    memory: str = "20%",
) -> Path:
    """Build a binary KenLM model from a text file of one space-separated sentence per line.

    Runs ``lmplz`` (writes ``<out_prefix>.arpa``) then ``build_binary`` (writes
    ``<out_prefix>.bin``). Both are written under temporary names and moved into place, so the
    ``.bin`` exists only once complete. Skipped if the ``.bin`` is newer than ``text_path``.

    Args:
        text_path: training text, one sentence per line.
        out_prefix: output path without extension.
        order: n-gram order (>= 1).
        discount_fallback: pass ``--discount_fallback`` (needed on tiny corpora, where lmplz
            otherwise fails with ``BadDiscountException``).
        prune: per-order count thresholds for ``--prune`` (e.g. ``[0, 0, 1]``), or None.
        memory: ``lmplz -S`` memory budget (e.g. ``"20%"``, ``"1G"``).

    Returns:
        Path of the binary model ``<out_prefix>.bin``.
    """
    text_path = Path(text_path)
    out_prefix = Path(out_prefix)
    if order < 1:
        raise ValueError(f"LM order must be >= 1, got {order}")
    if not text_path.is_file():
        raise FileNotFoundError(f"LM training text {text_path} does not exist: prepare the text first")
    if not _has_text(text_path):
        raise ValueError(f"LM training text {text_path} is empty: check the text preparation stage")
    arpa = out_prefix.with_name(out_prefix.name + ".arpa")
    binary = out_prefix.with_name(out_prefix.name + ".bin")
    if binary.is_file() and binary.stat().st_mtime > text_path.stat().st_mtime:
        logger.info("KenLM model %s is up to date, skipping", binary)
        return binary

    lmplz = find_kenlm_tool("lmplz")
    build_binary = find_kenlm_tool("build_binary")
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lmplz.", dir=binary.parent) as tmp:
        cmd = [str(lmplz), "-o", str(order), "-S", memory, "-T", tmp]
        if discount_fallback:
            cmd.append("--discount_fallback")
        if prune:
            cmd += ["--prune", *(str(p) for p in prune)]
        logger.info("Building %d-gram LM from %s", order, text_path)
        atomic_write(arpa, lambda p: _run(cmd, stdin_path=text_path, stdout_path=p))
        atomic_write(binary, lambda p: _run([str(build_binary), str(arpa), str(p)]))
    logger.info("Wrote %s", binary)
    return binary


class KenLM:
    """A loaded KenLM model (ARPA or binary) scoring token sequences in log10."""

    def __init__(self, path: Path) -> None:
        """Load the model at ``path`` (``.arpa`` or ``.bin``)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"KenLM model {path} does not exist: build it with `build_lm` first")
        self.path = path
        self._model = kenlm.Model(str(path))

    @property
    def order(self) -> int:
        """N-gram order of the model."""
        return int(self._model.order)

    def score(self, tokens: Sequence[str], *, bos: bool = True, eos: bool = True) -> float:
        """Log10 probability of the whole sentence ``tokens`` (with ``</s>`` if ``eos``)."""
        return float(self._model.score(" ".join(tokens), bos=bos, eos=eos))

    def perplexity(self, sentences: Sequence[Sequence[str]]) -> float:
        """Corpus perplexity ``10 ** (-sum(log10 p) / (num_tokens + num_sentences))``.

        Each sentence's ``</s>`` counts as a token, as in wav2vec-U's ``weighted_lm_ppl``.
        """
        if not sentences:
            raise ValueError("perplexity of an empty list of sentences is undefined: pass at least one")
        total = sum(self.score(s) for s in sentences)
        count = sum(len(s) for s in sentences) + len(sentences)
        return float(10.0 ** (-total / count))

    def __contains__(self, token: object) -> bool:
        """True if ``token`` is in the model's vocabulary."""
        return isinstance(token, str) and token in self._model

    def __repr__(self) -> str:
        return f"KenLM(path={str(self.path)!r}, order={self.order})"
