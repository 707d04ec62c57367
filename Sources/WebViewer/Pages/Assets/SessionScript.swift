extension Assets {
    /// One session: facts, downloads, a decoded session's exchanges, the transcript in Decoded /
    /// Text / Hex / Lab views, a page at a time, long messages cut with "show more", and live
    /// messages while the session is open.
    static let sessionScript = #"""
    "use strict";

    const sessionID = Number(location.pathname.split("/")[2]);
    const params = new URLSearchParams(location.search);
    // Without a view in the address: Decoded once a page shows the session was decoded, else Text.
    let view = ["decoded", "text", "hex", "lab"].includes(params.get("view")) ? params.get("view") : null;
    let decoded = false;
    // Lab is a view of lab sessions only (verbs, reply codes, DATA payloads); known with the session.
    let lab = false;
    let sender = ["client", "server"].includes(params.get("sender")) ? params.get("sender") : "";
    let absolute = params.get("times") === "absolute";
    // Where the session switched to TLS mid-stream (STARTTLS): after the message with this seq.
    let switchSeq = null;
    const body = document.querySelector("#transcript tbody");
    let messages = [];
    // Rows by request seq: an exchange split over two pages arrives as two halves.
    const exchanges = new Map();
    let next = null;
    let loadedAll = false;

    function shownView() {
      const offered = view === "lab" ? lab : view === "decoded" ? decoded : view != null;
      return offered ? view : decoded ? "decoded" : "text";
    }

    function remember() {
      const query = queryString({ view: view === (decoded ? "decoded" : "text") ? "" : view, sender, times: absolute ? "absolute" : "" });
      history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
    }

    function facts(session) {
      document.getElementById("title").textContent = "Session " + session.id;
      const list = document.getElementById("facts");
      const entries = [
        ["kind", session.kind + " (" + session.decoding + ")"],
        ["recorder", session.recorder_text],
        ["client → server", session.client_text + " → " + session.server_text],
        ["started", session.started_text],
        ["duration", session.duration_text],
        ["end reason", session.end_reason == null ? "open" : session.end_reason],
        ["messages", formatCount(session.message_count)],
        ["bytes", formatCount(session.bytes_from_client) + " from client, " + formatCount(session.bytes_from_server) + " from server"],
      ];
      for (const line of session.tls_text) entries.push(["TLS", line.slice("TLS ".length)]);
      const legs = session.tls || {};
      switchSeq = (legs.client && legs.client.start_tls_after_seq) ?? (legs.server && legs.server.start_tls_after_seq) ?? null;
      for (const line of session.fault_text) entries.push(["fault", line.slice("fault ".length)]);
      const nodes = [];
      for (const [name, value] of entries) nodes.push(el("dt", { text: name }), el("dd", { text: value }));
      if (session.replay_of != null) {
        nodes.push(el("dt", { text: "replay of" }),
          el("dd", {}, sessionLink(session.replay_of), " · ", el("a", { href: "/replays/" + Number(session.id), text: "compare side by side" })));
      }
      list.replaceChildren(...nodes);
      if (lab !== (session.decoding === "lab")) {
        lab = session.decoding === "lab";
        render();
      }
      const downloads = [["client-bytes", "client bytes"], ["server-bytes", "server bytes"], ["json", "JSON"], ["ndjson", "NDJSON"], ["pcap", "pcap"]];
      document.getElementById("downloads").replaceChildren("download: ",
        ...downloads.map(([format, name]) => el("a", { href: "/sessions/" + sessionID + "/download/" + format, download: "", text: name })));
    }

    function addExchanges(rows) {
      for (const row of rows) {
        const known = exchanges.get(row.request_seq) || {};
        exchanges.set(row.request_seq, { request_seq: row.request_seq, request: known.request || row.request, response: known.response || row.response });
      }
      const sorted = [...exchanges.values()].sort((a, b) => a.request_seq - b.request_seq);
      document.querySelector("#exchange-table tbody").replaceChildren(...sorted.map(exchangeRow));
      document.getElementById("exchanges").hidden = exchanges.size === 0;
    }

    function exchangeRow(exchange) {
      const request = exchange.request || {};
      const response = exchange.response || {};
      const seq = request.id != null ? el("a", { href: "#m" + Number(request.id), text: String(exchange.request_seq) }) : String(exchange.request_seq);
      return el("tr", {},
        el("td", { class: "number" }, seq),
        el("td", { text: request.kind || "" }),
        el("td", { class: "target", text: request.target || "" }),
        el("td", { text: response.outcome || "" }),
        el("td", { class: "error", text: response.error || "" }),
        el("td", { class: "number", text: exchange.response ? response.duration_text : "…" }));
    }

    function content(message) {
      if (shownView() === "decoded" && message.rendered) {
        const took = message.duration_text != null ? "  (" + message.duration_text + ")" : "";
        const summary = el("pre", { text: message.rendered.summary + took });
        if (!message.rendered.details.length) return summary;
        return el("div", {}, summary, el("pre", { class: "details", text: message.rendered.details.join("\n") }));
      }
      if (shownView() === "hex") return el("pre", { text: message.hex.join("\n") });
      if (shownView() === "lab") {
        const text = message.payload_text != null ? message.payload_text : message.text;
        return el("pre", { text: text });
      }
      return el("pre", { text: message.text });
    }

    function row(message) {
      const cell = el("td", {}, content(message));
      if (message.cut) {
        const more = el("button", { type: "button", text: "show more (" + formatCount(message.size) + " bytes)" });
        more.addEventListener("click", async () => {
          try {
            const whole = await getJSON("/api/sessions/" + sessionID + "/messages/" + Number(message.id));
            Object.assign(message, whole);
            cell.replaceChildren(content(message));
          } catch (error) { showError(error); }
        });
        cell.append(el("div", { class: "cut", text: "cut after " + formatCount(message.text.length) + " characters " }, more));
      }
      const arrow = message.sender === "client" ? "→" : "←";
      const label = shownView() === "lab" ? (message.verb != null ? message.verb : message.reply_code != null ? String(message.reply_code) : "-")
        : shownView() === "decoded" && message.rendered ? message.rendered.label : message.label;
      return el("tr", { class: message.sender, id: "m" + Number(message.id), "data-id": String(message.id) },
        el("td", { class: "time", text: absolute ? message.at_text : message.offset_text }),
        el("td", { class: "arrow", text: arrow }),
        el("td", { class: "label", text: label }),
        cell);
    }

    // A message's row, and after the last plaintext one the line where TLS starts.
    function rows(message) {
      if (message.seq !== switchSeq) return [row(message)];
      return [row(message), el("tr", { class: "switch" }, el("td", { colspan: "4", text: "── switched to TLS (STARTTLS): plaintext of the TLS session from here on ──" }))];
    }

    function render() {
      for (const button of document.querySelectorAll("[data-view]")) button.setAttribute("aria-pressed", String(button.dataset.view === shownView()));
      document.querySelector("[data-view=decoded]").hidden = !decoded;
      document.querySelector("[data-view=lab]").hidden = !lab;
      body.replaceChildren(...messages.flatMap(rows));
    }

    // The first decoded message makes Decoded the default view: everything is shown again.
    function append(added) {
      messages.push(...added);
      if (!decoded && added.some(message => message.rendered)) {
        decoded = true;
        render();
      } else {
        for (const message of added) body.append(...rows(message));
      }
    }

    async function loadPage() {
      try {
        const page = await getJSON("/api/sessions/" + sessionID + "/messages?" + queryString({ after: next, sender, limit: 200 }));
        facts(page.session);
        addExchanges(page.exchanges);
        append(page.messages);
        next = page.next;
        loadedAll = next == null;
        document.getElementById("more").hidden = loadedAll;
        showError(null);
        return page.session;
      } catch (error) { showError(error); }
    }

    async function reload() {
      messages = [];
      exchanges.clear();
      next = null;
      body.replaceChildren();
      return loadPage();
    }

    for (const button of document.querySelectorAll("[data-view]")) {
      button.addEventListener("click", () => { view = button.dataset.view; remember(); render(); });
    }
    const senderSelect = document.getElementById("sender");
    senderSelect.value = sender;
    senderSelect.addEventListener("change", () => { sender = senderSelect.value; remember(); reload(); });
    const absoluteBox = document.getElementById("absolute");
    absoluteBox.checked = absolute;
    absoluteBox.addEventListener("change", () => { absolute = absoluteBox.checked; remember(); render(); });
    document.getElementById("more").addEventListener("click", loadPage);

    render();
    loadPage().then(session => {
      if (!session) return;
      if (session.end_reason != null) {
        // An ended session does not change: nothing to follow.
        showLive("idle", "ended");
        return;
      }
      connectLive("/api/events?session=" + sessionID, {
        session: facts,
        message: message => {
          // Appended only once every earlier page is shown, so the transcript keeps its order.
          if (!loadedAll || (sender && message.sender !== sender) || messages.some(m => m.id === message.id)) return;
          append([message]);
        },
        reset: reload,
      }, loadedAll && messages.length ? String(messages[messages.length - 1].id) : "");
    });
    """#
}
