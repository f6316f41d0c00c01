"""The A/B test of a mail step's variants, in plain Python.

- `two_proportion_z_test`: the pooled two-proportion z-test (two-sided), the classic test of
  whether two rates differ. Chosen over a Bayesian "probability to be best" because its
  figures (a p-value, "significant at 95%") are the ones integrators know and can check by
  hand, and it needs no prior nor simulation.
- `compare_variants`: each variant against the leader (the best rate), with a Bonferroni
  correction when more than two variants are compared at once, or "not enough data yet".
"""

import math
from dataclasses import dataclass

from .proportions import _check_counts

# A variant needs this many e-mails, and the pooled rate at least this many successes and
# failures per arm (n p >= 5, n (1 - p) >= 5), before the normal approximation holds.
MIN_RECIPIENTS_PER_VARIANT = 30
MIN_EXPECTED_PER_ARM = 5
SIGNIFICANCE_LEVEL = 0.05


def two_proportion_z_test(successes_1, total_1, successes_2, total_2):
    """(z, two-sided p-value) of H0: p1 = p2, with the pooled standard error.

    p = (x1 + x2) / (n1 + n2), se = sqrt(p (1 - p) (1/n1 + 1/n2)), z = (x1/n1 - x2/n2) / se,
    p-value = 2 (1 - Phi(|z|)) = erfc(|z| / sqrt 2). When both rates are 0 or both 1 the
    rates cannot differ: z = 0, p-value = 1.
    """
    _check_counts(successes_1, total_1)
    _check_counts(successes_2, total_2)
    pooled = (successes_1 + successes_2) / (total_1 + total_2)
    variance = pooled * (1 - pooled) * (1 / total_1 + 1 / total_2)
    if variance <= 0:
        return 0.0, 1.0
    z = (successes_1 / total_1 - successes_2 / total_2) / math.sqrt(variance)
    return z, math.erfc(abs(z) / math.sqrt(2))


@dataclass(frozen=True)
class VariantResult:
    """One variant's rate and how it compares with the leader.

    `enough_data` False: `p_value` and `is_significant` are None (not computed).
    The leader is compared with the runner-up; the others with the leader.
    """

    successes: int
    total: int
    rate: float | None
    is_leader: bool
    enough_data: bool
    p_value: float | None = None
    is_significant: bool | None = None


def _enough_data(successes_1, total_1, successes_2, total_2, min_total):
    if min(total_1, total_2) < min_total:
        return False
    pooled = (successes_1 + successes_2) / (total_1 + total_2)
    smallest = min(total_1, total_2)
    return smallest * pooled >= MIN_EXPECTED_PER_ARM and smallest * (1 - pooled) >= MIN_EXPECTED_PER_ARM


def compare_variants(counts, alpha=SIGNIFICANCE_LEVEL, min_total=MIN_RECIPIENTS_PER_VARIANT):
    """A `VariantResult` per (successes, total) pair of `counts`, in the same order.

    The leader is the highest rate (the first on a tie). With k variants, k - 1 comparisons
    are made, each at alpha / (k - 1) (Bonferroni), so that "significant" keeps its 95% meaning
    however many variants there are. Fewer than two variants: nothing to compare.
    """
    rates = [successes / total if total else None for successes, total in counts]
    if len(counts) < 2:
        return [VariantResult(s, n, rate, True, False) for (s, n), rate in zip(counts, rates, strict=True)]
    known = [index for index, rate in enumerate(rates) if rate is not None]
    leader = max(known, key=lambda index: (rates[index], -index)) if known else 0
    others = sorted(known, key=lambda index: (-rates[index], index))
    runner_up = next((index for index in others if index != leader), None)
    level = alpha / (len(counts) - 1)
    results = []
    for index, (successes, total) in enumerate(counts):
        versus = runner_up if index == leader else leader
        if versus is None or not total or not _enough_data(successes, total, *counts[versus], min_total):
            results.append(VariantResult(successes, total, rates[index], index == leader, False))
            continue
        _z, p_value = two_proportion_z_test(successes, total, *counts[versus])
        results.append(VariantResult(successes, total, rates[index], index == leader, True, p_value, p_value < level))
    return results
