"""Compensation calculations: plan definitions (structured text → validated plan) and the
credits → measures → earnings → payouts run, as Ibis expressions."""
