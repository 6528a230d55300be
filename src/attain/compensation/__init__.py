"""Incentive compensation: plans as code, assignments, crediting, runs, statements, disputes, payouts."""
