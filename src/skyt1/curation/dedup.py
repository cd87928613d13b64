"""Problem deduplication: exact (after normalisation) and near (MinHash LSH).

Contracts (the ``curate`` stage relies on them):

- ``normalize(text) -> str``: NFKC, lowercase, LaTeX spacing/sizing commands and ``$`` removed,
  ``\\dfrac``/``\\tfrac`` -> ``\\frac``, ``\\dbinom`` -> ``\\binom``, ``\\text{..}`` unwrapped,
  braces dropped, sentence punctuation removed (a ``.`` or ``,`` between two digits is kept, so
  ``3.5`` and ``1,000`` survive), whitespace collapsed. Math operators (``+ - * / = ^ ( )``) are
  kept on purpose: ``What is 3 + 4?`` and ``What is 3 - 4?`` are different problems.
- ``dedup_exact(items, key)`` and ``dedup_near(items, key, ...)`` return ``(kept, dropped)``;
  the first occurrence wins, order is preserved, inputs are not mutated, and every dropped item
  is a copy with ``drop_reason`` = ``duplicate_of:<id>`` / ``near_duplicate_of:<id>`` (and, for
  near duplicates, ``drop_detail`` = the MinHash Jaccard estimate against the kept item).

Near dedup follows the usual MinHash-LSH recipe (Broder 1997; Lee et al. 2022 "Deduplicating
Training Data Makes Language Models Better"), here on character 5-gram shingles of the
normalised question: problems are short, and word shingles of a 12-word question are too few
to estimate a Jaccard similarity. ``unit="word"`` gives word shingles. Two problems must also
hold the same numbers to be near duplicates (``same_numbers``). MinHash permutations are
seeded (so results are deterministic) and built once per ``(num_perm, seed)``.

Recall: an LSH index built at the threshold it then checks makes a pair at that similarity a
candidate only about 40% of the time. ``lsh.lsh_bands(threshold, num_perm)`` picks the bands
and rows instead so that a pair at ``threshold`` is a candidate with probability >= 0.99
(``1 - (1 - s^r)^b``; 0.8 and 128 permutations: 21 bands of 6 rows, 0.998), and every
candidate is then verified by its MinHash estimate, so the banding only decides recall.

``lsh.NearIndex`` is the streaming form the ``curate`` stage uses: problems arrive one at a
time and each is checked against the problems kept before it, in 516 bytes per kept problem;
no text is kept.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

import numpy as np

from skyt1.curation.lsh import Bands, NearIndex, lsh_bands, optimal_bands  # noqa: F401  (re-exported)

__all__ = ["Bands", "NearIndex", "dedup_exact", "dedup_near", "features", "lsh_bands", "minhash", "normalize",
           "numbers_key", "optimal_bands", "shingles", "signature", "text_key"]

_WRAPPERS = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mathit|mbox|operatorname)\s*(?=\{)")
_SPACING = re.compile(r"\\(?:[,;:!> ]|quad|qquad|enspace|thinspace|medspace|thickspace|negthinspace)(?![a-z])")
_SIZING = re.compile(r"\\(?:displaystyle|textstyle|left|right|bigl|bigr|big|biggl|biggr|bigg)(?![a-z])")
_PUNCT = re.compile(r"(?<!\d)[.,]|[.,](?!\d)|[;:!?\"'`]")


@lru_cache(maxsize=1024)  # dedup and decontamination normalise the same question in turn
def normalize(text: str) -> str:
    """Canonical form of a problem statement for duplicate and contamination matching."""
    s = unicodedata.normalize("NFKC", text or "").lower()
    s = s.replace("\\$", " ")
    s = re.sub(r"\\[dt]frac(?![a-z])", r"\\frac", s)
    s = re.sub(r"\\[dt]binom(?![a-z])", r"\\binom", s)
    s = _WRAPPERS.sub(" ", s)
    s = _SPACING.sub(" ", s)
    s = _SIZING.sub("", s)
    s = re.sub(r"[${}~]", " ", s)
    s = _PUNCT.sub(" ", s)
    s = " ".join(s.split())
    s = re.sub(r"\s*([\^_])\s*", r"\1", s)
    return re.sub(r"([(\[]) | ([)\]])", r"\1\2", s)


def shingles(text: str, n: int = 5, unit: str = "char") -> set[str]:
    """Character (``unit="char"``) or word n-grams of ``text``; a text shorter than ``n``
    units is one shingle (so two short identical texts still match)."""
    if unit == "word":
        toks = text.split()
        if len(toks) < n:
            return {" ".join(toks)}
        return {" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1)}
    if unit != "char":
        raise ValueError(f"unit must be 'char' or 'word', not {unit!r}")
    if len(text) < n:
        return {text}
    return {text[i : i + n] for i in range(len(text) - n + 1)}


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int):
    from datasketch import MinHash

    m = MinHash(num_perm=num_perm, seed=seed)
    return m.permutations, m.scheme


def minhash(text: str, num_perm: int = 128, ngram: int = 5, unit: str = "char", seed: int = 1):
    """A seeded ``datasketch.MinHash`` of the shingles of ``normalize(text)`` (the permutations
    are built once per ``num_perm, seed``)."""
    from datasketch import MinHash

    perms, scheme = _permutations(num_perm, seed)
    m = MinHash(num_perm=num_perm, seed=seed, permutations=perms, scheme=scheme)
    m.update_batch([s.encode("utf-8") for s in shingles(normalize(text), ngram, unit)])
    return m


@lru_cache(maxsize=8)
def _affine(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 1 << 63, size=num_perm, dtype=np.uint64) | np.uint64(1)  # odd multipliers
    return a, rng.integers(0, 1 << 63, size=num_perm, dtype=np.uint64)


def _shingle_hashes(norm: str, ngram: int, unit: str) -> np.ndarray:
    """64-bit hashes of the distinct shingles of a normalised text."""
    if unit == "char" and ngram <= 8:  # byte n-grams read straight out of the UTF-8 buffer
        data = norm.encode("utf-8")
        if len(data) < ngram:
            data = data.ljust(ngram, b"\0")
        n = len(data) - ngram + 1
        windows = np.ndarray(shape=(n,), dtype="<u8", buffer=data + b"\0" * 8, strides=(1,))
        grams = windows & np.uint64((1 << (8 * ngram)) - 1)
        return np.unique(grams) * np.uint64(0x9E3779B97F4A7C15)
    keys = [hashlib.blake2b(g.encode(), digest_size=8).digest() for g in shingles(norm, ngram, unit)]
    return np.frombuffer(b"".join(keys), dtype="<u8")


def signature(text: str, num_perm: int = 128, ngram: int = 5, unit: str = "char", seed: int = 1, *,
              normalized: bool = False) -> np.ndarray:
    """A MinHash signature (``num_perm`` ``uint32``) of the shingles of ``normalize(text)``, in
    numpy: each shingle's 64-bit hash goes through ``num_perm`` seeded multiply-add maps and
    the top 32 bits are kept; the minimum per map is the signature (Broder 1997). Character
    shingles up to 8 are bytes of the UTF-8 text. About 40 us for a 300-character question; the
    last 1,024 are cached (the array is read-only).
    Two signatures estimate the Jaccard similarity as the share of equal positions.
    ``normalized``: ``text`` is already ``normalize``d."""
    return _signature(text if normalized else normalize(text), num_perm, ngram, unit, seed)


@lru_cache(maxsize=1024)  # dedup and decontamination sign the same question in turn; read-only results
def _signature(norm: str, num_perm: int, ngram: int, unit: str, seed: int) -> np.ndarray:
    a, b = _affine(num_perm, seed)
    m = np.multiply.outer(_shingle_hashes(norm, ngram, unit), a)
    m += b
    sig = (m.min(axis=0) >> np.uint64(32)).astype(np.uint32)  # the top bits of the minimum: the minimum of them
    sig.setflags(write=False)
    return sig


def _numbers(text: str, normalized: bool = False) -> list[str]:
    return sorted(re.findall(r"\d+(?:[.,]\d+)*", text if normalized else normalize(text)))


def numbers_key(text: str, normalized: bool = False) -> int:
    """A 64-bit hash of the sorted numbers of ``normalize(text)``: equal keys, same numbers."""
    nums = "\0".join(_numbers(text, normalized))
    return int.from_bytes(hashlib.blake2b(nums.encode(), digest_size=8).digest(), "little")


def features(text: str, num_perm: int = 128) -> tuple[int, np.ndarray, int]:
    """``(text_key, signature, numbers_key)`` of ``text``, normalising it once."""
    norm = normalize(text)
    key = int.from_bytes(hashlib.blake2b(norm.encode(), digest_size=8).digest(), "little")
    return key, signature(norm, num_perm, normalized=True), numbers_key(norm, normalized=True)


def text_key(text: str) -> int:
    """A 64-bit hash of ``normalize(text)``: what exact dedup compares."""
    return int.from_bytes(hashlib.blake2b(normalize(text).encode(), digest_size=8).digest(), "little")


def _id(item: dict, pos: int) -> str:
    return str(item.get("id", item.get("problem_id", pos)))


def dedup_exact(items: list[dict], key: str = "question") -> tuple[list[dict], list[dict]]:
    """Drop items whose normalised ``key`` equals that of an earlier item."""
    seen: dict[str, str] = {}
    kept, dropped = [], []
    for pos, item in enumerate(items):
        norm = normalize(str(item.get(key, "")))
        if norm in seen:
            dropped.append({**item, "drop_reason": f"duplicate_of:{seen[norm]}"})
        else:
            seen[norm] = _id(item, pos)
            kept.append(item)
    return kept, dropped


def dedup_near(
    items: list[dict],
    key: str = "question",
    threshold: float = 0.8,
    num_perm: int = 128,
    ngram: int = 5,
    *,
    unit: str = "char",
    seed: int = 1,
    same_numbers: bool = True,
) -> tuple[list[dict], list[dict]]:
    """Drop items whose estimated Jaccard similarity to an earlier *kept* item is >= threshold.

    Items are processed in order; each is queried against the LSH index of the items kept so
    far, and the candidate with the highest estimate (ties: the earliest) is its original.
    LSH candidates whose estimate is below ``threshold`` are ignored, so the banding only
    decides recall, never the verdict. Exact duplicates (Jaccard 1) are caught too.

    With ``same_numbers`` (the default) two problems are near duplicates only if they hold the
    same numbers: "What is 7 + 1?" and "What is 7 + 2?" share 8 of 10 character 5-grams, but
    a problem with other numbers is another problem.
    """
    index = NearIndex(threshold, num_perm, same_numbers=same_numbers)
    kept, dropped = [], []
    for pos, item in enumerate(items):
        text = str(item.get(key, ""))
        hit = index.query(sig := signature(text, num_perm, ngram, unit, seed), nums := numbers_key(text))
        if hit is not None:
            dropped.append({**item, "drop_reason": f"near_duplicate_of:{hit[0]}", "drop_detail": round(hit[1], 4)})
            continue
        index.add(_id(item, pos), sig, nums)
        kept.append(item)
    return kept, dropped
