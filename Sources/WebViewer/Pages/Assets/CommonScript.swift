extension Assets {
    /// Helpers every page uses. Recorded values only ever reach the page as text (`textContent`,
    /// text nodes); no markup is built from data anywhere.
    static let commonScript = #"""
    "use strict";

    function el(tag, props, ...children) {
      const node = document.createElement(tag);
      for (const [key, value] of Object.entries(props || {})) {
        if (key === "text") node.textContent = value;
        else if (key === "class") node.className = value;
        else node.setAttribute(key, value);
      }
      for (const child of children) if (child != null) node.append(child);
      return node;
    }

    async function getJSON(url) {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      const body = await response.json().catch(() => ({ error: response.status + " " + response.statusText }));
      if (!response.ok) throw new Error(body.error || response.statusText);
      return body;
    }

    function showError(error) {
      const box = document.getElementById("error");
      box.textContent = error ? String(error.message || error) : "";
      box.hidden = !error;
    }

    // Query strings with encodeURIComponent (a + stays a plus), empty values left out.
    function queryString(params) {
      return Object.entries(params).filter(([, value]) => value !== "" && value != null)
        .map(([key, value]) => encodeURIComponent(key) + "=" + encodeURIComponent(value)).join("&");
    }

    const filterNames = ["client", "kind", "recorder", "verb", "code", "reason", "decoding", "status", "path", "sqlstate", "field",
      "slower_than", "since", "until", "q"];

    // The filters in the address, and the form showing them.
    function filtersFromAddress() {
      const params = new URLSearchParams(location.search);
      const filters = {};
      for (const name of filterNames) filters[name] = params.get(name) || "";
      const form = document.getElementById("filters");
      if (form) for (const name of filterNames) form.elements[name].value = filters[name];
      return filters;
    }

    // The indicator in the header: hidden on pages that do not follow the store (stats, a replay).
    // `state`: on, off or idle.
    function showLive(state, text) {
      const indicator = document.getElementById("live");
      indicator.className = "live " + state;
      indicator.textContent = text;
      indicator.hidden = false;
    }

    // Server-Sent Events with the indicator in the header. The browser reconnects by itself and
    // sends Last-Event-ID; when the server refused (the stream closed), try again a little later.
    // `lastEventID`: where the page already is (a session page: its last message).
    function connectLive(path, handlers, lastEventID = "") {
      function open() {
        const source = new EventSource(path + (lastEventID ? (path.includes("?") ? "&" : "?") + "last_event_id=" + lastEventID : ""));
        source.addEventListener("hello", event => { lastEventID = event.lastEventId || lastEventID; showLive("on", "live"); });
        for (const [name, handle] of Object.entries(handlers)) {
          source.addEventListener(name, event => { lastEventID = event.lastEventId || lastEventID; handle(JSON.parse(event.data)); });
        }
        source.onerror = () => {
          showLive("off", "reconnecting…");
          if (source.readyState === EventSource.CLOSED) setTimeout(open, 3000);
        };
      }
      showLive("idle", "connecting…");
      open();
    }

    function sessionLink(id) { return el("a", { href: "/sessions/" + Number(id), text: "#" + Number(id) }); }

    function formatCount(n) { return Number(n).toLocaleString("en"); }
    """#
}
