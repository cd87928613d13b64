"""Token counts, length filters and token-length histograms for the curated set.

- ``TokenCounter(tokenizer)``: ``tokenizer`` is ``None`` (an approximation: ``ceil(chars / 4)``,
  the usual rule of thumb for English text and code with BPE tokenizers; no model needed),
  ``"embedded"`` (the embedded SmolLM2 tokenizer), or a local path / hub id read with
  ``transformers.AutoTokenizer`` (the student's tokenizer: what the training length limit
  counts). ``count(texts) -> list[int]`` counts the text alone, without special tokens or the
  chat template (which add a few tokens per turn). ``name`` says which counter was used.
- ``filter_length(rows, counts, lo, hi) -> (kept, dropped)``: ``too_short:<n>`` /
  ``too_long:<n>``.
- ``describe(values) -> {"n", "min", "mean", "p50", "p90", "max"}``.
- ``token_histogram(series, path, title)``: one PNG (matplotlib, Agg backend), one panel per
  entry of ``series`` (panel title -> {label: values}), log-spaced bins.
- ``token_report(rows, teacher, counter)`` and ``length_histograms(rows, teacher, counter, path)``:
  the curate stage's statistics and PNG: the teacher's completion tokens (``usage``) of every
  input sample (``teacher``) and of the kept rows, and the kept rows' assistant-turn tokens
  (``n_tokens``) by domain. ``token_report_of`` / ``length_histograms_of`` take those series
  directly (the curate stage streams, so it keeps integers, not rows).
"""

from __future__ import annotations

import math
from pathlib import Path

from skyt1.curation import partition

__all__ = ["TokenCounter", "describe", "filter_length", "length_histograms", "length_histograms_of", "token_histogram",
           "token_report", "token_report_of"]


class TokenCounter:
    """Counts tokens of texts; see the module docstring."""

    def __init__(self, tokenizer: str | None = None):
        self.spec = tokenizer
        self._tok = None
        if tokenizer is None:
            self.name = "approx: ceil(chars / 4)"
            return
        from transformers import AutoTokenizer

        if tokenizer in ("embedded", "smollm2-135m-instruct"):
            from skyt1.backends.embedded import embedded_model_path

            path = str(embedded_model_path())
        else:
            path = tokenizer
        self._tok = AutoTokenizer.from_pretrained(path)
        self.name = f"tokenizer: {tokenizer}"

    def count(self, texts: list[str]) -> list[int]:
        if self._tok is None:
            return [math.ceil(len(t or "") / 4) for t in texts]
        out: list[int] = []
        for i in range(0, len(texts), 256):
            enc = self._tok([t or "" for t in texts[i : i + 256]], add_special_tokens=False)["input_ids"]
            out += [len(ids) for ids in enc]
        return out


def filter_length(
    rows: list[dict], counts: list[int], lo: int | None, hi: int | None
) -> tuple[list[dict], list[dict]]:
    """Keep rows whose count is within ``[lo, hi]`` (a ``None`` bound is open)."""
    if len(counts) != len(rows):
        raise ValueError(f"filter_length: {len(rows)} rows but {len(counts)} counts")

    def reason(pos: int, _: dict) -> str | None:
        n = counts[pos]
        if lo is not None and n < lo:
            return f"too_short:{n}"
        if hi is not None and n > hi:
            return f"too_long:{n}"
        return None

    return partition(rows, reason)


def _quantile(sorted_values: list[float], q: float) -> float:
    i = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[i]


def describe(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "min": None, "mean": None, "p50": None, "p90": None, "max": None}
    v = sorted(values)
    return {"n": len(v), "min": v[0], "mean": round(sum(v) / len(v), 1), "p50": _quantile(v, 0.5),
            "p90": _quantile(v, 0.9), "max": v[-1]}


def token_histogram(series: dict[str, dict[str, list[float]]], path: Path, title: str = "") -> Path:
    """Write the histograms to ``path`` (PNG); see the module docstring."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(name, data) for name, data in series.items()]
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(5.5 * max(1, len(panels)), 4), squeeze=False)
    for ax, (name, data) in zip(axes[0], panels):
        values = [x for vals in data.values() for x in vals if x and x > 0]
        if values:
            lo, hi = min(values), max(values)
            bins = [lo * (hi / lo) ** (i / 30) for i in range(31)] if hi > lo else 10
            for label, vals in data.items():
                vals = [x for x in vals if x and x > 0]
                if vals:
                    ax.hist(vals, bins=bins, alpha=0.6, label=f"{label} (n={len(vals)})")
            if hi > lo:
                from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

                ax.set_xscale("log")
                ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
                ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
                ax.xaxis.set_minor_formatter(NullFormatter())
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("tokens")
        ax.set_ylabel("rows")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _usage_tokens(r: dict) -> int | None:
    n = (r.get("usage") or {}).get("completion_tokens")
    return n if isinstance(n, int) and not isinstance(n, bool) else None


def _by_domain(rows: list[dict]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for r in rows:
        out.setdefault(str(r.get("domain", "unknown")), []).append(r["n_tokens"])
    return dict(sorted(out.items()))


def token_report(rows: list[dict], teacher: list[int | None], counter: str) -> dict:
    return token_report_of(_by_domain(rows), teacher, [t for t in map(_usage_tokens, rows) if t is not None], counter)


def token_report_of(kept_by_domain: dict[str, list[int]], teacher: list[int | None], teacher_kept: list[int],
                    counter: str) -> dict:
    """``token_report`` from the kept rows' token counts by domain and teacher tokens (the streaming form)."""
    kept = [n for v in kept_by_domain.values() for n in v]
    return {"counter": counter, "kept": describe(kept),
            "kept_by_domain": {d: describe(v) for d, v in sorted(kept_by_domain.items())},
            "teacher_completion_input": describe([t for t in teacher if t is not None]),
            "teacher_completion_kept": describe(list(teacher_kept))}


def length_histograms(rows: list[dict], teacher: list[int | None], counter: str, path: Path) -> Path:
    return length_histograms_of(_by_domain(rows), teacher, [t for t in map(_usage_tokens, rows) if t is not None],
                                counter, path)


def length_histograms_of(kept_by_domain: dict[str, list[int]], teacher: list[int | None], teacher_kept: list[int],
                         counter: str, path: Path) -> Path:
    series = {
        "teacher completion tokens (usage)": {
            "all input samples": [t for t in teacher if t is not None],
            "kept": list(teacher_kept),
        },
        f"training examples: assistant turn ({counter})": {d: list(v) for d, v in sorted(kept_by_domain.items())},
    }
    return token_histogram(series, path, title="curate: token lengths")
