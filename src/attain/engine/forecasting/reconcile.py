"""Hierarchical reconciliation: make forecasts of a hierarchy add up (teams to the company).

A structure lists every series and the bottom series it sums (`Structure.summing`, the S
matrix: one row per series, one column per bottom series). Base forecasts ŷ (one per series,
made independently) rarely add up; a reconciled forecast is S·G·ŷ for a G that maps ŷ to bottom
forecasts. We use MinT (Wickramasuriya, Athanasopoulos & Hyndman, 2019):

    G = (Sᵀ W⁻¹ S)⁻¹ Sᵀ W⁻¹

with W the covariance of the base forecasts' errors, estimated from backtest errors and shrunk
towards its diagonal (Schäfer & Strimmer, 2005) because there are usually fewer error samples
than series: "mint_shrink". When errors are missing or too few (fewer than 2 samples), W is the
diagonal of error variances ("wls_var"), and without any error the structural weights (W = the
number of bottom series each series sums, "wls_struct"). `bottom_up` (G picks the bottom rows)
is available for comparison.

Why MinT-shrink and not top-down: it uses every level's forecast, weights each by how accurate
it has been, and is unbiased when the base forecasts are; top-down needs proportions that drift,
bottom-up throws away the better-behaved aggregate forecasts of noisy people and products.

Worked example (company = a + b; base forecasts company 100, a 50, b 40; W = I, "ols"): S =
[[1, 1], [1, 0], [0, 1]], SᵀS = [[2, 1], [1, 2]], Sᵀŷ = (150, 140), so the bottoms are
(2·150 - 140, 2·140 - 150) / 3 = (53.33, 43.33) and the company 96.67: the 10 by which the parts
fell short is split in thirds, each part up 3.33 and the company down 3.33.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
RECONCILIATION_METHODS = ("mint_shrink", "wls_var", "wls_struct", "ols", "bottom_up", "none")


@dataclass(frozen=True)
class Structure:
    """Series of a hierarchy and the bottom series each one sums."""

    series_ids: tuple[str, ...]
    bottom_ids: tuple[str, ...]
    summing: Floats  # len(series_ids) x len(bottom_ids), 0/1

    @classmethod
    def from_members(cls, members: Mapping[str, Sequence[str]]) -> Structure:
        """`members`: each series id → the bottom series ids it sums. A bottom series lists
        itself. Series order is kept; bottoms are those listing exactly themselves.

        >>> Structure.from_members({"all": ["a", "b"], "a": ["a"], "b": ["b"]}).bottom_ids
        ('a', 'b')
        """
        bottoms = tuple(sid for sid, parts in members.items() if list(parts) == [sid])
        index = {sid: i for i, sid in enumerate(bottoms)}
        summing = np.zeros((len(members), len(bottoms)), dtype=np.float64)
        for row, parts in enumerate(members.values()):
            for part in parts:
                if part not in index:
                    raise ValueError(f"series {part!r} is summed but is not a bottom series")
                summing[row, index[part]] = 1.0
        return cls(tuple(members), bottoms, summing)

    @classmethod
    def flat(cls, series_ids: Sequence[str]) -> Structure:
        """Independent series: nothing to reconcile."""
        return cls.from_members({sid: [sid] for sid in series_ids})


def shrunk_covariance(errors: Floats) -> tuple[Floats, float]:
    """Covariance of `errors` (series x samples, zero-mean assumed) shrunk to its diagonal,
    with the Schäfer-Strimmer intensity λ ∈ [0, 1] (returned with the matrix)."""
    n_series, samples = errors.shape
    covariance = errors @ errors.T / samples
    variance = np.diag(covariance).copy()
    std = np.sqrt(np.where(variance > 0, variance, 1.0))
    standardised = errors / std[:, None]
    correlation = standardised @ standardised.T / samples
    off = ~np.eye(n_series, dtype=bool)
    if not off.any():
        return covariance, 0.0
    squares = standardised**2
    # variance of each sample correlation (Schäfer & Strimmer eq. for r_ij)
    spread = (squares @ squares.T / samples - correlation**2) * samples / max(samples - 1, 1)
    denominator = float(np.sum(correlation[off] ** 2))
    lam = float(np.sum(spread[off]) / denominator) if denominator > 0 else 1.0
    lam = min(1.0, max(0.0, lam))
    shrunk = covariance * (1 - lam)
    np.fill_diagonal(shrunk, variance)
    return shrunk, lam


def reconciliation_matrix(structure: Structure, method: str,
                          errors: Floats | None = None) -> tuple[Floats, str]:
    """(S·G, the method actually used): reconciled = S·G @ base forecasts.

    `errors` (series x samples) are backtest errors of the base forecasts, aligned by column.
    A method that needs errors falls back as described in the module docstring.
    """
    summing = structure.summing
    n_series, n_bottom = summing.shape
    if method == "none" or n_series == n_bottom:
        return np.eye(n_series), "none"
    if method == "bottom_up":
        rows = [structure.series_ids.index(b) for b in structure.bottom_ids]
        picker = np.zeros((n_bottom, n_series))
        picker[np.arange(n_bottom), rows] = 1.0
        return summing @ picker, method
    usable = errors is not None and errors.shape[0] == n_series and not np.isnan(errors).any()
    samples = errors.shape[1] if usable and errors is not None else 0
    if method == "mint_shrink" and (not usable or samples < 2):
        method = "wls_var" if usable and samples >= 1 else "wls_struct"
    if method == "wls_var" and not usable:
        method = "wls_struct"
    if method == "mint_shrink" and errors is not None:
        weights, _ = shrunk_covariance(errors)
    elif method == "wls_var" and errors is not None:
        weights = np.diag(np.mean(errors**2, axis=1))
    elif method == "wls_struct":
        weights = np.diag(summing.sum(axis=1))
    elif method == "ols":
        weights = np.eye(n_series)
    else:
        raise ValueError(f"unknown reconciliation method {method!r}; use one of "
                         f"{', '.join(RECONCILIATION_METHODS)}")
    # guard against zero variances (a series with perfect backtests) before inverting
    diagonal = np.diag(weights).copy()
    floor = max(float(np.mean(diagonal[diagonal > 0])) if (diagonal > 0).any() else 1.0, 1e-9)
    weights = weights + np.diag(np.where(diagonal > 0, 0.0, floor * 1e-3))
    inverse = np.linalg.pinv(weights)
    gram = summing.T @ inverse @ summing
    mapping = np.linalg.solve(gram, summing.T @ inverse)
    return summing @ mapping, method


def anchor_to_total(children: Floats, total: Floats, variances: Floats) -> Floats:
    """Children (k x h) adjusted to add up to `total` (h), each moving in proportion to its
    error variance: the least-squares change weighted by 1/variance (the same principle as
    MinT, with the total held fixed). Used to tie a second grouping (product family, segment)
    to the company total of the primary hierarchy.

    >>> anchor_to_total(np.array([[60.0], [30.0]]), np.array([100.0]), np.array([3.0, 1.0]))
    array([[67.5],
           [32.5]])
    """
    share = variances / variances.sum() if variances.sum() > 0 else (
        np.full(variances.shape, 1.0 / variances.size))
    gap = total - children.sum(axis=0)
    adjusted: Floats = children + share[:, None] * gap[None, :]
    return adjusted


def two_stage(structure: Structure, method: str, errors: Floats | None = None
              ) -> tuple[Callable[[Floats], Floats], str]:
    """Reconciliation of a hierarchy too large for one MinT (thousands of bottom series: its
    covariance and inverse are n x n), in two linear stages:

    1. the aggregates (every series that sums more than itself) and the bottoms outside every
       lowest aggregate are reconciled with `method`, the lowest aggregates (e.g. teams)
       standing in for the bottoms below them;
    2. the bottoms under each lowest aggregate are moved to add up to its reconciled value,
       each in proportion to its error variance (`anchor_to_total`; equal shares without
       errors): weighted least squares inside each group.

    Returns the map (base forecasts, series x columns → reconciled) and the method used. The
    map is linear, so backtest forecasts go through the same one as the forecast.

    Worked example (company = a + b, a = a1 + a2, b = b1; base company 100, a 50, b 40, a1 20,
    a2 20, b1 40; "ols", no errors): stage 1 is the example of the module docstring, a 53.33,
    b 43.33, company 96.67; stage 2 raises a1 and a2 by half of 53.33 - 40 each to 26.67, and
    b1 to 43.33.
    """
    summing = structure.summing
    n_series = summing.shape[0]
    sets = [frozenset(int(j) for j in np.flatnonzero(row)) for row in summing]
    position = {sid: i for i, sid in enumerate(structure.series_ids)}
    bottom_row = {position[b]: j for j, b in enumerate(structure.bottom_ids)}
    aggregates = [i for i in range(n_series) if i not in bottom_row]
    # the lowest aggregates: no other aggregate strictly inside; they must not overlap
    lowest = [i for i in aggregates if not any(sets[k] < sets[i] for k in aggregates)]
    covered: set[int] = set()
    for i in lowest:
        if covered & sets[i]:
            raise ValueError("two-stage reconciliation needs a tree: lowest aggregates overlap")
        covered |= sets[i]
    loose = [i for i, j in bottom_row.items() if j not in covered]
    # stage 1: every aggregate and loose bottom, over the lowest aggregates and loose bottoms
    top_rows = [*aggregates, *loose]
    top_bottoms = [*lowest, *loose]
    top = Structure(
        tuple(structure.series_ids[i] for i in top_rows),
        tuple(structure.series_ids[i] for i in top_bottoms),
        np.array([[1.0 if sets[b] <= sets[r] else 0.0 for b in top_bottoms]
                  for r in top_rows]))
    top_errors = errors[top_rows] if errors is not None else None
    matrix, used = reconciliation_matrix(top, method, top_errors)
    variance = (np.mean(errors**2, axis=1) if errors is not None and errors.size
                else np.ones(n_series))
    groups = [(top_rows.index(i), [r for r, j in bottom_row.items() if j in sets[i]])
              for i in lowest]

    def apply(base: Floats) -> Floats:
        out = base.astype(np.float64, copy=True)
        reconciled = matrix @ base[top_rows]
        out[top_rows] = reconciled
        for position, children in groups:
            out[children] = anchor_to_total(base[children], reconciled[position],
                                            variance[children])
        return out

    return apply, f"two_stage_{used}"
