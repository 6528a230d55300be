"""Incentive compensation: plans as code, assignments, runs, statements, disputes, payouts."""
