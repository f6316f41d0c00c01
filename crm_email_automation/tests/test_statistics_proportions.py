"""The uplift statistics against hand-computed tables.

Reference values: Newcombe (1998), "Two-sided confidence intervals for the single
proportion", Stat. Med. 17:857-872, Table I, method 3 (Wilson score), and Newcombe (1998),
"Interval estimation for the difference between independent proportions: comparison of
eleven methods", Stat. Med. 17:873-890, Table II, method 10 (hybrid score, no continuity
correction), rounded to 4 places as printed there.
"""

import math

from odoo.tests import BaseCase, tagged

from ..statistics.proportions import (
    MIN_PARTICIPANTS_PER_ARM,
    Z_95,
    holdout_uplift,
    newcombe_difference_interval,
    wilson_interval,
)


@tagged("post_install", "-at_install")
class TestProportions(BaseCase):
    def assertInterval(self, got, expected, places=4):
        for got_value, expected_value in zip(got, expected, strict=True):
            self.assertAlmostEqual(got_value, expected_value, places=places, msg=f"{got} != {expected}")

    def test_z_is_the_normal_975_quantile(self):
        # Phi(z) = (1 + erf(z / sqrt 2)) / 2 must be 0.975.
        self.assertAlmostEqual((1 + math.erf(Z_95 / math.sqrt(2))) / 2, 0.975, places=12)

    def test_wilson_matches_newcombe_table_one(self):
        # Newcombe 1998a, Table I, method 3.
        table = {
            (81, 263): (0.2553, 0.3662),
            (15, 148): (0.0624, 0.1605),
            (0, 20): (0.0000, 0.1611),
            (1, 29): (0.0061, 0.1718),
        }
        for (successes, total), expected in table.items():
            self.assertInterval(wilson_interval(successes, total), expected)

    def test_wilson_by_hand(self):
        # 56/70, by the quadratic formula with z^2 = 3.841459:
        # centre = 2*70*0.8 + 3.841459 = 115.841459
        # spread = 1.959964 * sqrt(3.841459 + 4*70*0.8*0.2) = 1.959964 * sqrt(48.641459)
        #        = 1.959964 * 6.974343 = 13.669461
        # denominator = 2 * (70 + 3.841459) = 147.682918
        # lower = 102.171998 / 147.682918 = 0.691834; upper = 129.510920 / 147.682918 = 0.876953
        self.assertInterval(wilson_interval(56, 70), (0.691834, 0.876953), places=5)

    def test_newcombe_method_ten_matches_table_two(self):
        # Newcombe 1998b, Table II, method 10: (a) to (h).
        table = {
            (56, 70, 48, 80): (0.2000, 0.0524, 0.3339),
            (9, 10, 3, 10): (0.6000, 0.1705, 0.8090),
            (6, 7, 2, 7): (0.5714, 0.0582, 0.8062),
            (5, 56, 0, 29): (0.0893, -0.0381, 0.1926),
            (0, 10, 0, 20): (0.0000, -0.1611, 0.2775),
            (0, 10, 0, 10): (0.0000, -0.2775, 0.2775),
            (10, 10, 0, 20): (1.0000, 0.6791, 1.0000),
            (10, 10, 0, 10): (1.0000, 0.6075, 1.0000),
        }
        for counts, expected in table.items():
            self.assertInterval(newcombe_difference_interval(*counts), expected)

    def test_newcombe_by_hand(self):
        # 56/70 - 48/80, from the two Wilson intervals:
        # 56/70: (0.691834, 0.876953) as above; 48/80: z^2 = 3.841459,
        #   centre = 96 + 3.841459 = 99.841459, spread = 1.959964 * sqrt(3.841459 + 76.8)
        #   = 1.959964 * 8.980059 = 17.600592, denominator = 167.682918,
        #   l2 = 82.240867 / 167.682918 = 0.490455, u2 = 117.442051 / 167.682918 = 0.700382.
        # lower = 0.2 - sqrt((0.8 - 0.691834)^2 + (0.700382 - 0.6)^2)
        #       = 0.2 - sqrt(0.011700 + 0.010077) = 0.2 - 0.147568 = 0.052432
        # upper = 0.2 + sqrt((0.876953 - 0.8)^2 + (0.6 - 0.490455)^2)
        #       = 0.2 + sqrt(0.005922 + 0.012000) = 0.2 + 0.133873 = 0.333873
        self.assertInterval(newcombe_difference_interval(56, 70, 48, 80), (0.2, 0.052432, 0.333873), places=5)

    def test_newcombe_by_hand_interval_across_zero(self):
        # 12/40 mailed against 5/40 held out: an uplift of 0.3 - 0.125 = 0.175 that the data
        # cannot yet tell from none. z^2 = 3.841459, denominator 2 * (40 + 3.841459) = 87.682918.
        # 12/40: centre = 24 + 3.841459 = 27.841459, spread = 1.959964 * sqrt(3.841459 + 4*40*0.3*0.7)
        #   = 1.959964 * sqrt(37.441459) = 1.959964 * 6.118943 = 11.992907,
        #   l1 = 15.848552 / 87.682918 = 0.180748, u1 = 39.834366 / 87.682918 = 0.454300.
        # 5/40: centre = 10 + 3.841459 = 13.841459, spread = 1.959964 * sqrt(3.841459 + 4*40*0.125*0.875)
        #   = 1.959964 * sqrt(21.341459) = 1.959964 * 4.619682 = 9.054410,
        #   l2 = 4.787049 / 87.682918 = 0.054595, u2 = 22.895869 / 87.682918 = 0.261121.
        # lower = 0.175 - sqrt((0.3 - 0.180748)^2 + (0.261121 - 0.125)^2)
        #       = 0.175 - sqrt(0.014221 + 0.018529) = 0.175 - 0.180970 = -0.005970
        # upper = 0.175 + sqrt((0.454300 - 0.3)^2 + (0.125 - 0.054595)^2)
        #       = 0.175 + sqrt(0.023808 + 0.004957) = 0.175 + 0.169604 = 0.344604
        self.assertInterval(wilson_interval(12, 40), (0.180748, 0.454300), places=5)
        self.assertInterval(wilson_interval(5, 40), (0.054595, 0.261121), places=5)
        self.assertInterval(newcombe_difference_interval(12, 40, 5, 40), (0.175, -0.005970, 0.344604), places=5)
        # Both arms large enough: the figure is shown, its interval across zero says "maybe none".
        # Incremental: 0.175 * 40 = 7 conversions; revenue 2400/40 - 1000/40 = 35 per head, * 40 = 1400.
        result = holdout_uplift(40, 12, 40, 5, mailed_revenue=2400.0, holdout_revenue=1000.0)
        self.assertTrue(result.enough_data)
        self.assertLess(result.uplift_lower, 0)
        self.assertAlmostEqual(result.incremental_conversions, 7.0)
        self.assertAlmostEqual(result.incremental_revenue, 1400.0)

    def test_interval_is_antisymmetric_and_contains_the_difference(self):
        for counts in [(3, 40, 7, 35), (0, 31, 2, 30), (30, 30, 29, 31), (12, 400, 1, 44)]:
            difference, lower, upper = newcombe_difference_interval(*counts)
            self.assertLessEqual(lower, difference)
            self.assertLessEqual(difference, upper)
            swapped = newcombe_difference_interval(counts[2], counts[3], counts[0], counts[1])
            self.assertInterval(swapped, (-difference, -upper, -lower), places=12)

    def test_bad_counts_are_refused(self):
        for successes, total in [(-1, 10), (11, 10), (0, 0)]:
            with self.assertRaises(ValueError):
                wilson_interval(successes, total)
        with self.assertRaises(TypeError):
            wilson_interval(1.5, 10)

    def test_uplift_not_enough_data_says_what_is_missing(self):
        result = holdout_uplift(100, 12, 12, 1)
        self.assertFalse(result.enough_data)
        self.assertEqual((result.missing_mailed, result.missing_holdout), (0, MIN_PARTICIPANTS_PER_ARM - 12))
        self.assertIsNone(result.uplift)
        self.assertIsNone(result.incremental_conversions)
        # Large enough arms, but nobody converted: still no figure.
        result = holdout_uplift(300, 0, 40, 0)
        self.assertFalse(result.enough_data)
        self.assertEqual((result.missing_mailed, result.missing_holdout), (0, 0))

    def test_uplift_figures(self):
        # 56 of 70 mailed converted, 48 of 80 held out: rates 0.8 and 0.6, uplift 0.2 with
        # Newcombe's interval; 0.2 * 70 = 14 incremental conversions; revenue per mailed
        # participant 7000 / 70 = 100 against 4000 / 80 = 50: (100 - 50) * 70 = 3500.
        result = holdout_uplift(70, 56, 80, 48, mailed_revenue=7000.0, holdout_revenue=4000.0)
        self.assertTrue(result.enough_data)
        self.assertAlmostEqual(result.mailed_rate, 0.8)
        self.assertAlmostEqual(result.holdout_rate, 0.6)
        self.assertInterval((result.uplift, result.uplift_lower, result.uplift_upper), (0.2, 0.0524, 0.3339))
        self.assertAlmostEqual(result.incremental_conversions, 14.0)
        self.assertAlmostEqual(result.incremental_revenue, 3500.0)
