/* Attain page behaviour: sortable tables, filter boxes, ECharts from json_script blocks. */
(function () {
  "use strict";

  function cellValue(row, index) {
    var cell = row.cells[index];
    if (!cell) return "";
    var raw = cell.getAttribute("data-sort");
    return raw !== null ? raw : cell.textContent.trim();
  }

  function compare(a, b) {
    var x = parseFloat(a), y = parseFloat(b);
    var numeric = a !== "" && b !== "" && !isNaN(x) && !isNaN(y) &&
      /^-?[\d.]+(e-?\d+)?$/i.test(a) && /^-?[\d.]+(e-?\d+)?$/i.test(b);
    if (numeric) return x - y;
    if (a === "" && b !== "") return 1;   // empty values sort last
    if (b === "" && a !== "") return -1;
    return a.localeCompare(b, undefined, {numeric: true, sensitivity: "base"});
  }

  function makeSortable(table) {
    if (table.dataset.sortableReady) return;
    table.dataset.sortableReady = "1";
    var headers = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(headers, function (th, index) {
      th.setAttribute("role", "button");
      th.tabIndex = 0;
      th.title = "Sort";
      function sort() {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        if (rows.length < 2) return;
        var descending = th.getAttribute("aria-sort") === "ascending";
        Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        rows.sort(function (r1, r2) {
          var result = compare(cellValue(r1, index), cellValue(r2, index));
          return descending ? -result : result;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
      });
    });
  }

  function makeFilter(input) {
    if (input.dataset.filterReady) return;
    input.dataset.filterReady = "1";
    input.addEventListener("input", function () {
      var table = document.getElementById(input.getAttribute("data-filter-table"));
      if (!table) return;
      var needle = input.value.trim().toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        row.hidden = needle !== "" && row.textContent.toLowerCase().indexOf(needle) === -1;
      });
    });
  }

  var charts = [];

  function renderChart(el) {
    if (el.dataset.chartReady || !window.echarts) return;
    var source = document.getElementById(el.getAttribute("data-chart"));
    if (!source) return;
    el.dataset.chartReady = "1";
    var option = JSON.parse(source.textContent);
    var chart = window.echarts.init(el, null, {renderer: "canvas"});
    chart.setOption(option);
    chart.on("click", function (params) {
      if (params.data && params.data.link) window.location.href = params.data.link;
    });
    chart.getZr().on("mousemove", function (e) {
      el.style.cursor = e.target ? "pointer" : "default";
    });
    charts.push(chart);
  }

  function init(root) {
    root.querySelectorAll("table.sortable").forEach(makeSortable);
    root.querySelectorAll("input[data-filter-table]").forEach(makeFilter);
    root.querySelectorAll("[data-chart]").forEach(renderChart);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (e) { init(e.target || document); });
  window.addEventListener("resize", function () {
    charts.forEach(function (chart) { chart.resize(); });
  });
})();
