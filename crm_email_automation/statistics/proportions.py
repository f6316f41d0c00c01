"""Intervals for proportions and their difference, in plain Python.

- `wilson_interval`: the Wilson score interval of one proportion (no continuity correction),
  method 3 of Newcombe (1998) "Two-sided confidence intervals for the single proportion",
  Statistics in Medicine 17, 857-872.
- `newcombe_difference_interval`: the hybrid score interval for the difference of two
  independent proportions, method 10 of Newcombe (1998) "Interval estimation for the
  difference between independent proportions: comparison of eleven methods", Statistics
  in Medicine 17, 873-890. It combines the two Wilson intervals; it stays inside [-1, 1],
  is never degenerate at 0 or n successes, and its coverage is close to nominal even for
  small samples, which is why the holdout uplift uses it.
- `holdout_uplift`: the figures the scenario's results show, or why there are none yet.
"""

import math
from dataclasses import dataclass

# The two-sided 95% quantile of the standard normal distribution.
Z_95 = 1.959963984540054

# Below these, the uplift is "not enough data yet": with fewer participants in an arm, or
# no conversion at all, an interval would be either uninformative or misleading.
MIN_PARTICIPANTS_PER_ARM = 30
MIN_CONVERSIONS = 1


def _check_counts(successes, total):
    if not all(isinstance(count, int) and not isinstance(count, bool) for count in (successes, total)):
        raise TypeError("counts must be integers")
    if total <= 0 or not 0 <= successes <= total:
        raise ValueError(f"need 0 <= successes <= total and total > 0, got {successes}/{total}")


def wilson_interval(successes, total, z=Z_95):
    """(lower, upper) Wilson score interval of `successes` / `total`.

    The roots in p of |p_hat - p| = z * sqrt(p (1 - p) / n):
    (2 n p_hat + z^2 -+ z sqrt(z^2 + 4 n p_hat (1 - p_hat))) / (2 (n + z^2)).
    """
    _check_counts(successes, total)
    p_hat = successes / total
    z2 = z * z
    centre = 2 * total * p_hat + z2
    spread = z * math.sqrt(z2 + 4 * total * p_hat * (1 - p_hat))
    denominator = 2 * (total + z2)
    lower = 0.0 if successes == 0 else (centre - spread) / denominator
    upper = 1.0 if successes == total else (centre + spread) / denominator
    return lower, upper


def newcombe_difference_interval(successes_1, total_1, successes_2, total_2, z=Z_95):
    """(difference, lower, upper) for p1 - p2, Newcombe's hybrid score interval (method 10).

    With (l_i, u_i) the Wilson interval of p_i and d = p1 - p2:
    lower = d - sqrt((p1 - l1)^2 + (u2 - p2)^2), upper = d + sqrt((u1 - p1)^2 + (p2 - l2)^2).
    """
    l1, u1 = wilson_interval(successes_1, total_1, z)
    l2, u2 = wilson_interval(successes_2, total_2, z)
    p1, p2 = successes_1 / total_1, successes_2 / total_2
    difference = p1 - p2
    lower = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return difference, max(lower, -1.0), min(upper, 1.0)


@dataclass(frozen=True)
class Uplift:
    """What the mailed participants gained over the held-out ones.

    `enough_data` False: the other figures are not computed (None) and `missing_mailed` /
    `missing_holdout` say how many more participants each arm needs (0 when the arms are
    large enough but no one converted yet).
    """

    enough_data: bool
    mailed_rate: float | None = None
    holdout_rate: float | None = None
    uplift: float | None = None
    uplift_lower: float | None = None
    uplift_upper: float | None = None
    incremental_conversions: float | None = None
    incremental_revenue: float | None = None
    missing_mailed: int = 0
    missing_holdout: int = 0


def holdout_uplift(
    mailed,
    mailed_conversions,
    holdout,
    holdout_conversions,
    mailed_revenue=0.0,
    holdout_revenue=0.0,
    min_per_arm=MIN_PARTICIPANTS_PER_ARM,
    min_conversions=MIN_CONVERSIONS,
):
    """The absolute uplift of the mailed arm over the holdout arm, with its 95% interval.

    Incremental conversions: the uplift times the mailed participants (conversions the
    e-mails caused among them). Incremental revenue: the revenue per mailed participant
    minus the revenue per held-out participant, times the mailed participants.
    """
    missing_mailed = max(0, min_per_arm - mailed)
    missing_holdout = max(0, min_per_arm - holdout)
    if missing_mailed or missing_holdout or mailed_conversions + holdout_conversions < min_conversions:
        return Uplift(enough_data=False, missing_mailed=missing_mailed, missing_holdout=missing_holdout)
    uplift, lower, upper = newcombe_difference_interval(mailed_conversions, mailed, holdout_conversions, holdout)
    revenue_uplift = mailed_revenue / mailed - holdout_revenue / holdout
    return Uplift(
        enough_data=True,
        mailed_rate=mailed_conversions / mailed,
        holdout_rate=holdout_conversions / holdout,
        uplift=uplift,
        uplift_lower=lower,
        uplift_upper=upper,
        incremental_conversions=uplift * mailed,
        incremental_revenue=revenue_uplift * mailed,
    )
