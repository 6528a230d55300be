"""ECharts options built from query results, rendered by `static/web/attain.js`.

Each data point may carry a `link`: clicking it opens the records behind the figure. Money is
converted to float here and only here, for drawing; figures people read come from the tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

PALETTE = ["#2563eb", "#94a3b8", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2"]


def _point(value: Decimal | int, link: str | None, color: str | None = None) -> dict[str, Any]:
    point: dict[str, Any] = {"value": float(value) if isinstance(value, Decimal) else value}
    if link:
        point["link"] = link
    if color:
        point["itemStyle"] = {"color": color}
    return point


BAND_COLORS = ["#dc2626", "#f97316", "#f59e0b", "#16a34a", "#15803d"]


def _base() -> dict[str, Any]:
    return {
        "color": PALETTE,
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "grid": {"left": 8, "right": 16, "top": 36, "bottom": 8, "containLabel": True},
        "legend": {"top": 0},
    }


def bar_chart(categories: Sequence[str], series: Sequence[tuple[str, Sequence[Decimal | int],
              Sequence[str | None]]], *, kind: str = "bar", stack: bool = False,
              counts: bool = False,
              colors: Sequence[str] | None = None) -> dict[str, Any]:
    """A bar (or line) chart: `series` is [(name, values, links)], one value per category.

    `counts` keeps the value axis on whole numbers; `colors` colours each category's bar.
    """
    option = _base()
    option["xAxis"] = {"type": "category", "data": list(categories),
                       "axisLabel": {"hideOverlap": True}}
    option["yAxis"] = {"type": "value", "axisLabel": {"formatter": "{value}"},
                       **({"minInterval": 1} if counts else {})}
    option["series"] = [
        {
            "name": name, "type": kind, "smooth": kind == "line",
            **({"stack": "total"} if stack else {}),
            "data": [_point(v, link, colors[i] if colors else None)
                     for i, (v, link) in enumerate(zip(values, links, strict=True))],
        }
        for name, values, links in series
    ]
    if len(series) == 1:
        option["legend"] = {"show": False}
        option["grid"]["top"] = 16
    return option


def gauge_chart(pct: Decimal | None, *, link: str | None = None) -> dict[str, Any]:
    """A 0-150% gauge of attainment."""
    value = float(pct) if pct is not None else 0.0
    return {
        "series": [{
            "type": "gauge", "min": 0, "max": 150, "splitNumber": 6,
            "progress": {"show": True, "width": 14},
            "axisLine": {"lineStyle": {"width": 14, "color": [
                [80 / 150, "#fca5a5"], [100 / 150, "#fcd34d"], [1, "#86efac"]]}},
            "axisTick": {"show": False}, "splitLine": {"length": 8},
            "axisLabel": {"distance": 18, "fontSize": 10},
            "pointer": {"width": 4},
            "detail": {"valueAnimation": False, "formatter": "{value}%", "fontSize": 20,
                       "offsetCenter": [0, "70%"]},
            "data": [_point(Decimal(str(value)), link) | {"name": "attainment"}],
        }],
    }
