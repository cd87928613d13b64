"""Nucleus sampling in the continuous-batching engine: which tokens can come out, and how often."""

from collections import Counter

import pytest
import torch

from skyt1.backends.engine import sample


def _draws(probs: list[float], top_p: float, n: int = 4000, temperature: float = 1.0) -> Counter:
    logits = torch.tensor([probs]).log().expand(n, -1)
    gens = [torch.Generator().manual_seed(i) for i in range(n)]
    return Counter(sample(logits, temperature, top_p, gens))


@pytest.mark.parametrize(("top_p", "kept"),
                         [(0.5, {0}), (0.7, {0, 1}), (0.8, {0, 1}), (0.81, {0, 1, 2}), (1.0, {0, 1, 2, 3})])
def test_the_nucleus_is_the_smallest_set_reaching_top_p(top_p, kept):
    counts = _draws([0.5, 0.3, 0.15, 0.05], top_p)
    assert set(counts) == kept


def test_frequencies_follow_the_renormalized_nucleus():
    counts = _draws([0.5, 0.3, 0.15, 0.05], 0.9)  # keeps 0, 1, 2: mass 0.95
    for token, p in [(0, 0.5 / 0.95), (1, 0.3 / 0.95), (2, 0.15 / 0.95)]:
        assert abs(counts[token] / 4000 - p) < 0.03


def test_a_flat_distribution_over_many_tokens_samples_beyond_the_top_256():
    counts = _draws([1 / 1000] * 1000, 0.95)  # the nucleus (950 tokens) needs the full sort
    assert len(counts) > 600 and max(counts) >= 900


def test_temperature_zero_is_greedy_and_a_row_depends_only_on_its_generator():
    logits = torch.tensor([[0.1, 2.0, 0.3], [3.0, 0.0, 0.0]])
    assert sample(logits, 0.0, 1.0, []) == [1, 0]
    alone = sample(logits[1:], 1.0, 0.9, [torch.Generator().manual_seed(7)])
    together = sample(logits, 1.0, 0.9, [torch.Generator().manual_seed(1), torch.Generator().manual_seed(7)])
    assert together[1] == alone[0]
