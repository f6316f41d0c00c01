"""Plain-Python statistics for the scenario results (no Odoo imports).

One file per method: `proportions` (Wilson and Newcombe intervals, the holdout uplift),
`ab_test` (the two-proportion z-test of A/B variants).
"""
