extension Assets {
    /// The sessions list: keyset pages ("older sessions"), filters from the address, live rows.
    static let listScript = #"""
    "use strict";

    const filters = filtersFromAddress();
    const body = document.querySelector("#sessions tbody");
    const rows = new Map();
    let next = null;

    function cells(session) {
      const reason = session.end_reason == null ? el("span", { class: "open", text: "open" }) : session.end_reason;
      return [
        el("td", {}, sessionLink(session.id)),
        el("td", { title: session.started, text: session.started_text }),
        el("td", { class: "number", text: session.duration_text }),
        el("td", { text: session.kind }),
        el("td", { text: session.recorder_text }),
        el("td", { text: session.client_text + " → " + session.server_text }),
        el("td", { class: "number", text: formatCount(session.message_count) }),
        el("td", { class: "number", text: formatCount(session.bytes_from_client) }),
        el("td", { class: "number", text: formatCount(session.bytes_from_server) }),
        el("td", {}, reason),
        el("td", {}, session.replay_of == null ? null : sessionLink(session.replay_of)),
      ];
    }

    function show(session, { atTop = false, fresh = false } = {}) {
      let row = rows.get(session.id);
      if (row) {
        row.replaceChildren(...cells(session));
      } else {
        row = el("tr", { "data-id": String(session.id) }, ...cells(session));
        rows.set(session.id, row);
        if (atTop) body.prepend(row); else body.append(row);
      }
      if (fresh) { row.classList.remove("fresh"); void row.offsetWidth; row.classList.add("fresh"); }
      document.getElementById("empty").hidden = rows.size > 0;
    }

    async function loadPage() {
      try {
        const page = await getJSON("/api/sessions?" + queryString({ ...filters, before: next }));
        for (const session of page.sessions) show(session);
        next = page.next;
        document.getElementById("older").hidden = !next;
        document.getElementById("empty").hidden = rows.size > 0;
        showError(null);
      } catch (error) { showError(error); }
    }

    async function reload() {
      rows.clear();
      body.replaceChildren();
      next = null;
      await loadPage();
    }

    document.getElementById("older").addEventListener("click", loadPage);
    loadPage().then(() => {
      // A text search is a one-off answer; everything else follows the store live.
      if (filters.q) return;
      const { q, ...sessionFilters } = filters;
      connectLive("/api/events?" + queryString(sessionFilters), {
        session: session => show(session, { atTop: !rows.has(session.id), fresh: true }),
        reset: reload,
      });
    });
    """#
}
