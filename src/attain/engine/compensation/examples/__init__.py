"""Example compensation plans (YAML plan text), shipped as demo plans and used by the tests.

- `ae-quota-plan-75-25.yaml`: account executives, 75 % individual / 25 % team, marginal
  accelerators, quarterly bonus, annual linear bonus, a SPIFF, clawback and a ramp guarantee;
- `sdr-plan.yaml`: monthly, overlay credit on sourced deals, manager-entered objectives, a manual
  SPIFF and a non-recoverable draw;
- `manager-overlay-plan.yaml`: roll-up credit through the hierarchy, year-to-date retroactive
  tiers with a decelerator, team component and team-goal bonus.
"""

from __future__ import annotations

from pathlib import Path

EXAMPLES_DIR = Path(__file__).parent


def example_plan_texts() -> dict[str, str]:
    """{file name: plan text} of every example plan, in file-name order."""
    return {path.name: path.read_text(encoding="utf-8")
            for path in sorted(EXAMPLES_DIR.glob("*.yaml"))}


__all__ = ["EXAMPLES_DIR", "example_plan_texts"]
