"""Plan definition problems: where a plan is wrong, the value found and what would be accepted.

Kept in a module of its own (re-exported by `plans`) so that `payouts.parse_payout_rules` can
report `PlanProblem`s without importing `plans`, which imports `payouts` (no import cycle).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from attain.engine.errors import EngineError


@dataclass(frozen=True, slots=True)
class PlanProblem:
    """One thing wrong with a plan definition.

    `path` names the place (`components[1].tiers.bands[2].from`, "" for the whole document),
    `value` the offending value as written (or "" when a key is missing), `reason` says what
    would be accepted, `line` is the 1-based line in the plan text (None when unknown).
    """

    path: str
    value: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.path or "(document)"
        at = f" (line {self.line})" if self.line is not None else ""
        shown = f" = {self.value}" if self.value != "" else ""
        return f"{where}{shown}{at}: {self.reason}"


class PlanDefinitionError(EngineError, ValueError):
    """A plan definition cannot be used; `problems` lists every problem found, in text order."""

    def __init__(self, problems: Sequence[PlanProblem], source: str = "plan") -> None:
        self.problems = tuple(problems)
        self.source = source
        count = len(self.problems)
        listed = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(
            f"{source}: {count} problem{'' if count == 1 else 's'} in the plan definition:\n"
            f"{listed}"
        )


__all__ = ["PlanDefinitionError", "PlanProblem"]
