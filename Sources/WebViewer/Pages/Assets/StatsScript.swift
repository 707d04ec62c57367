extension Assets {
    /// The figures of `sessions stats`, tables and an inline SVG bar chart (built as DOM nodes).
    static let statsScript = #"""
    "use strict";

    const svgNS = "http://www.w3.org/2000/svg";
    function svg(tag, attributes, text) {
      const node = document.createElementNS(svgNS, tag);
      for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
      if (text != null) node.textContent = text;
      return node;
    }

    // Horizontal bars, one per count, the longest the full width.
    function barChart(title, counts, colour) {
      const rowHeight = 20, labelWidth = 110, width = 460;
      const shown = counts.slice(0, 12);
      const most = Math.max(1, ...shown.map(c => c.count));
      const chart = svg("svg", { width, height: 28 + rowHeight * shown.length, role: "img", "aria-label": title });
      chart.append(svg("text", { x: 4, y: 16, "font-weight": 600 }, title));
      shown.forEach((count, index) => {
        const y = 26 + index * rowHeight;
        const length = Math.max(1, Math.round((width - labelWidth - 70) * count.count / most));
        chart.append(svg("text", { x: 4, y: y + 13, "font-family": "monospace" }, count.key == null ? "(none)" : count.key));
        chart.append(svg("rect", { x: labelWidth, y: y + 2, width: length, height: rowHeight - 6, fill: colour }));
        chart.append(svg("text", { x: labelWidth + length + 6, y: y + 13 }, formatCount(count.count)));
      });
      return chart;
    }

    function table(title, headings, rows) {
      return el("table", {},
        el("thead", {}, el("tr", {}, ...[title, ...headings].map(h => el("th", { text: h })))),
        el("tbody", {}, ...rows.map(cells => el("tr", {}, ...cells.map((c, i) => el("td", { class: i > 0 ? "number" : "", text: c }))))));
    }

    async function load() {
      const filters = filtersFromAddress();
      try {
        const stats = await getJSON("/api/stats?" + queryString(filters));
        document.getElementById("totals").textContent = formatCount(stats.sessions) + " sessions, " + formatCount(stats.messages) + " messages";
        document.getElementById("chart").replaceChildren(
          barChart("verbs", stats.by_verb, "#1d5fbf"), barChart("reply codes", stats.by_reply_code, "#b3541e"));
        const counts = list => list.map(c => [c.key == null ? "(none)" : c.key, formatCount(c.count)]);
        const tables = [
          table("verb", ["count"], counts(stats.by_verb)),
          table("reply code", ["count"], counts(stats.by_reply_code)),
          table("end reason", ["count"], stats.by_end_reason.map(c => [c.key == null ? "open" : c.key, formatCount(c.count)])),
          table("busiest clients", ["sessions", "messages", "bytes"],
            stats.busiest_clients.map(c => [c.host, formatCount(c.sessions), formatCount(c.messages), formatCount(c.bytes)])),
        ];
        if (stats.latency_text) {
          const l = stats.latency_text;
          tables.splice(3, 0, table("command → reply latency", ["p50", "p90", "p99", "max", "pairs"],
            [["", l.p50, l.p90, l.p99, l.max, formatCount(stats.latency.count)]]));
        }
        document.getElementById("tables").replaceChildren(...tables);
        showError(null);
      } catch (error) { showError(error); }
    }

    load();
    """#
}
