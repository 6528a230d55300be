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


def trend_chart(labels: Sequence[str], bars: tuple[str, Sequence[Decimal | int]],
                line: tuple[str, Sequence[Decimal | None]] | None,
                links: Sequence[str | None]) -> dict[str, Any]:
    """Bars (e.g. bookings) with an optional line on a second, percent axis (e.g. attainment)."""
    option = bar_chart(labels, [(bars[0], bars[1], links)])
    if line is not None:
        option["legend"] = {"top": 0}
        option["grid"]["top"] = 36
        option["yAxis"] = [option["yAxis"], {"type": "value", "name": "%",
                                             "axisLabel": {"formatter": "{value}%"},
                                             "splitLine": {"show": False}}]
        option["series"].append({
            "name": line[0], "type": "line", "yAxisIndex": 1, "smooth": True,
            "data": [_point(v, link) if v is not None else None
                     for v, link in zip(line[1], links, strict=True)],
        })
    return option


def sparkline_chart(values: Sequence[Decimal], link: str | None = None) -> dict[str, Any]:
    """A tiny line without axes (a rep's recent months in a table cell)."""
    return {
        "grid": {"left": 2, "right": 2, "top": 2, "bottom": 2},
        "xAxis": {"type": "category", "show": False, "data": list(range(len(values)))},
        "yAxis": {"type": "value", "show": False, "min": 0},
        "tooltip": {"show": False},
        "series": [{"type": "line", "symbol": "none", "smooth": True,
                    "lineStyle": {"width": 1.5}, "areaStyle": {"opacity": 0.15},
                    "data": [_point(v, link) for v in values]}],
        "color": PALETTE,
    }


def heatmap_chart(columns: Sequence[str], rows: Sequence[str],
                  cells: Sequence[tuple[int, int, int | None, str | None]]) -> dict[str, Any]:
    """Rows x columns coloured by a 0-100 score (percentile); `cells` are (column, row, score,
    link). Empty scores are left blank."""
    return {
        "tooltip": {"position": "top"},
        "grid": {"left": 8, "right": 8, "top": 8, "bottom": 56, "containLabel": True},
        "xAxis": {"type": "category", "data": list(columns), "splitArea": {"show": True},
                  "axisLabel": {"interval": 0, "rotate": 30}},
        "yAxis": {"type": "category", "data": list(rows), "splitArea": {"show": True},
                  "inverse": True},
        "visualMap": {"min": 0, "max": 100, "calculable": False, "orient": "horizontal",
                      "left": "center", "bottom": 0, "itemHeight": 120,
                      "inRange": {"color": ["#dc2626", "#fde68a", "#16a34a"]},
                      "text": ["100th", "0th percentile"]},
        "series": [{
            "type": "heatmap", "label": {"show": True},
            "data": [{"value": [x, y, score], **({"link": link} if link else {})}
                     for x, y, score, link in cells if score is not None],
        }],
    }


# --- pipeline analytics (web/pipeline_views.py) --------------------------------------------------


def funnel_chart(stages: Sequence[str], counts: Sequence[int], links: Sequence[str | None]
                 ) -> dict[str, Any]:
    """A funnel of deal counts per stage, widest first; each step links to its deals."""
    return {
        "color": PALETTE,
        "tooltip": {"trigger": "item", "formatter": "{b}: {c}"},
        "series": [{
            "type": "funnel", "sort": "none", "left": "10%", "width": "80%", "minSize": "8%",
            "label": {"show": True, "position": "inside", "formatter": "{b}: {c}"},
            "data": [_point(c, link) | {"name": s}
                     for s, c, link in zip(stages, counts, links, strict=True)],
        }],
    }


def sankey_chart(nodes: Sequence[str], links: Sequence[tuple[str, str, int]]) -> dict[str, Any]:
    """Stage flow: `links` are (source, target, transitions); only forward moves are drawn
    (a sankey cannot show a move back to an earlier stage)."""
    return {
        "color": PALETTE,
        "tooltip": {"trigger": "item"},
        "series": [{
            "type": "sankey", "left": 8, "right": 90, "top": 8, "bottom": 8,
            "emphasis": {"focus": "adjacency"}, "nodeAlign": "left",
            "data": [{"name": n} for n in nodes],
            "links": [{"source": s, "target": t, "value": v} for s, t, v in links],
            "lineStyle": {"color": "gradient", "curveness": 0.5},
        }],
    }


def conversion_heatmap_chart(columns: Sequence[str], rows: Sequence[str],
                             cells: Sequence[tuple[int, int, Decimal | None, str | None]],
                             *, low: float = 0, high: float = 100) -> dict[str, Any]:
    """Conversion % per row x column: `cells` are (column index, row index, value or None,
    link); an empty value shows "-"."""
    return {
        "tooltip": {"position": "top"},
        "grid": {"left": 8, "right": 16, "top": 8, "bottom": 56, "containLabel": True},
        "xAxis": {"type": "category", "data": list(columns), "splitArea": {"show": True}},
        "yAxis": {"type": "category", "data": list(rows), "splitArea": {"show": True}},
        "visualMap": {"min": low, "max": high, "calculable": True, "orient": "horizontal",
                      "left": "center", "bottom": 0, "inRange": {
                          "color": ["#fee2e2", "#fef3c7", "#dcfce7", "#16a34a"]}},
        "series": [{
            "type": "heatmap", "label": {"show": True},
            "data": [{"value": [x, y, float(v) if v is not None else "-"],
                      **({"link": link} if link else {})} for x, y, v, link in cells],
        }],
    }


def distribution_chart(series: Sequence[tuple[str, dict[str, str]]]) -> dict[str, Any]:
    """Box plots side by side: `series` is [(name, {min, p10, p25, p50, p75, p90, max})]; the box
    spans p25 to p75 with the median, the whiskers min and max, and p10/p90 are marked."""
    option = _base()
    option["tooltip"] = {"trigger": "item"}
    option["legend"] = {"show": False}
    option["grid"]["top"] = 16
    names = [name for name, _ in series]
    option["xAxis"] = {"type": "category", "data": names}
    option["yAxis"] = {"type": "value", "scale": True}
    option["series"] = [
        {"name": "Distribution", "type": "boxplot", "data": [
            [float(Decimal(stats[k])) for k in ("min", "p25", "p50", "p75", "max")]
            for _, stats in series]},
        {"name": "p10 / p90", "type": "scatter", "symbol": "diamond", "data": [
            [name, float(Decimal(stats[k]))] for name, stats in series for k in ("p10", "p90")]},
    ]
    return option
