"""The A/B test statistics against values computed by hand.

Each case: p = (x1 + x2) / (n1 + n2), se = sqrt(p (1 - p) (1/n1 + 1/n2)),
z = (x1/n1 - x2/n2) / se, p-value = 2 (1 - Phi(|z|)), Phi read in a standard normal table
and interpolated linearly between its two-decimal rows.
"""

from odoo.tests import BaseCase, tagged

from ..statistics.ab_test import compare_variants, two_proportion_z_test


@tagged("post_install", "-at_install")
class TestAbTestStatistics(BaseCase):
    def test_z_test_120_of_1000_against_90_of_1000(self):
        # p = 210 / 2000 = 0.105; p (1 - p) = 0.093975; x (1/1000 + 1/1000) = 0.00018795;
        # se = sqrt(0.00018795) = 0.0137095; z = (0.120 - 0.090) / 0.0137095 = 2.1883.
        # Phi(2.18) = 0.98537, Phi(2.19) = 0.98574 -> Phi(2.1883) = 0.98568;
        # p-value = 2 (1 - 0.98568) = 0.0286.
        z, p_value = two_proportion_z_test(120, 1000, 90, 1000)
        self.assertAlmostEqual(z, 2.1883, places=4)
        self.assertAlmostEqual(p_value, 0.0286, places=3)

    def test_z_test_45_of_500_against_40_of_500(self):
        # p = 85 / 1000 = 0.085; p (1 - p) = 0.077775; x (2 / 500) = 0.0003111;
        # se = 0.0176380; z = (0.090 - 0.080) / 0.0176380 = 0.5670.
        # Phi(0.56) = 0.71226, Phi(0.57) = 0.71566 -> Phi(0.5670) = 0.71464;
        # p-value = 2 (1 - 0.71464) = 0.5707.
        z, p_value = two_proportion_z_test(45, 500, 40, 500)
        self.assertAlmostEqual(z, 0.5670, places=4)
        self.assertAlmostEqual(p_value, 0.5707, places=3)

    def test_z_test_is_symmetric_in_sign(self):
        # 30/200 against 15/200: p = 45 / 400 = 0.1125; p (1 - p) = 0.09984375;
        # x (2 / 200) = 0.0009984375; se = 0.0315981; z = 0.075 / 0.0315981 = 2.3736.
        # Phi(2.37) = 0.99111, Phi(2.38) = 0.99134 -> Phi(2.3736) = 0.99119; p = 0.0176.
        z, p_value = two_proportion_z_test(15, 200, 30, 200)
        self.assertAlmostEqual(z, -2.3736, places=4)
        self.assertAlmostEqual(p_value, 0.0176, places=3)

    def test_equal_extreme_rates_do_not_differ(self):
        self.assertEqual(two_proportion_z_test(0, 50, 0, 80), (0.0, 1.0))
        self.assertEqual(two_proportion_z_test(40, 40, 9, 9), (0.0, 1.0))

    def test_bad_counts_are_refused(self):
        with self.assertRaises(ValueError):
            two_proportion_z_test(11, 10, 1, 10)
        with self.assertRaises(ValueError):
            two_proportion_z_test(1, 0, 1, 10)
        with self.assertRaises(TypeError):
            two_proportion_z_test(1.5, 10, 1, 10)

    def test_two_variants_leader_and_significance(self):
        first, second = compare_variants([(90, 1000), (120, 1000)])
        self.assertTrue(second.is_leader)
        self.assertFalse(first.is_leader)
        # Both compared with each other: the same p-value (0.0286 < 0.05).
        self.assertAlmostEqual(first.p_value, 0.0286, places=3)
        self.assertAlmostEqual(second.p_value, 0.0286, places=3)
        self.assertTrue(first.is_significant and second.is_significant)

    def test_three_variants_use_bonferroni(self):
        # Against the leader 120/1000: 90/1000 has p = 0.0286, not below 0.05 / 2 = 0.025.
        # 60/1000: p = 180 / 2000 = 0.09 -> p (1 - p) = 0.0819, x 0.002 = 0.0001638,
        # se = 0.0127984, z = 0.06 / 0.0127984 = 4.6881: p = 2.8e-6, far below 0.025.
        results = compare_variants([(120, 1000), (90, 1000), (60, 1000)])
        self.assertEqual([r.is_leader for r in results], [True, False, False])
        self.assertAlmostEqual(results[1].p_value, 0.0286, places=3)
        self.assertFalse(results[1].is_significant)
        self.assertTrue(results[2].is_significant)
        self.assertLess(results[2].p_value, 1e-5)
        self.assertAlmostEqual(two_proportion_z_test(120, 1000, 60, 1000)[0], 4.6881, places=4)

    def test_not_enough_data_yet(self):
        # Under 30 e-mails in a variant: no p-value, however different the rates look.
        for result in compare_variants([(20, 29), (1, 29)]):
            self.assertFalse(result.enough_data)
            self.assertIsNone(result.p_value)
            self.assertIsNone(result.is_significant)
        # 100 each but 4 opens in all: 100 x 4/200 = 2 expected successes < 5.
        self.assertFalse(any(r.enough_data for r in compare_variants([(3, 100), (1, 100)])))
        # A variant nobody received yet has no rate.
        results = compare_variants([(10, 100), (0, 0)])
        self.assertIsNone(results[1].rate)
        self.assertFalse(results[0].enough_data)

    def test_one_variant_is_no_test(self):
        (only,) = compare_variants([(50, 100)])
        self.assertTrue(only.is_leader)
        self.assertFalse(only.enough_data)
        self.assertEqual(compare_variants([]), [])
