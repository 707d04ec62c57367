/// The fixed markup of each page's main part.
enum PageBodies {
    /// The filters of `sessions list`, by the same names; a GET form keeps them in the address.
    static let filterForm = """
        <form id="filters" class="filters" method="get">
        <label>client <input name="client" placeholder="addr[:port]"></label>
        <label>kind <select name="kind"><option value="">any</option><option>server</option><option>proxy</option><option>replay</option><option>mock</option></select></label>
        <label>recorder <input name="recorder" size="10"></label>
        <label>verb <input name="verb" size="6"></label>
        <label>code <input name="code" size="4"></label>
        <label>end reason <input name="reason" size="12" placeholder="quit, open, …"></label>
        <label>protocol <input name="decoding" size="8" placeholder="http, resp, …"></label>
        <label>status <input name="status" size="4" placeholder="5xx"></label>
        <label>path <input name="path" size="12" placeholder="/api/ or /u/*"></label>
        <label>sqlstate <input name="sqlstate" size="6"></label>
        <label>field <input name="field" size="14" placeholder="name=value"></label>
        <label>slower than <input name="slower_than" size="6" placeholder="100ms"></label>
        <label>since <input name="since" size="12" placeholder="15m, 2026-11-24"></label>
        <label>until <input name="until" size="12"></label>
        <label>text <input name="q" size="14" placeholder="bytes, \\x1b[ …"></label>
        <button type="submit">filter</button> <a href="?">clear</a>
        </form>
        """

    static let list = """
        <h1>Sessions</h1>
        \(filterForm)
        <table id="sessions" class="sessions">
        <thead><tr><th>id</th><th>start</th><th>duration</th><th>kind</th><th>recorder</th><th>client → server</th>
        <th class="number">messages</th><th class="number">bytes →</th><th class="number">bytes ←</th><th>end reason</th><th>replay of</th></tr></thead>
        <tbody></tbody>
        </table>
        <p id="empty" hidden>no sessions match</p>
        <p><button id="older" type="button" hidden>older sessions</button></p>
        """

    static let session = """
        <h1 id="title">Session</h1>
        <dl id="facts" class="facts"></dl>
        <p id="downloads" class="downloads"></p>
        <section id="exchanges" hidden>
        <h2>Exchanges</h2>
        <table id="exchange-table" class="exchanges">
        <thead><tr><th class="number">seq</th><th>request</th><th>target, key or statement</th><th>status, reply or tag</th><th>error</th><th class="number">duration</th></tr></thead>
        <tbody></tbody>
        </table>
        </section>
        <div class="toolbar">
        <span role="group" aria-label="view">
        <button type="button" data-view="decoded" hidden>Decoded</button><button type="button" data-view="text">Text</button><button type="button" data-view="hex">Hex</button><button type="button" data-view="lab" hidden>Lab</button>
        </span>
        <label>direction <select id="sender"><option value="">both</option><option value="client">→ client to server</option><option value="server">← server to client</option></select></label>
        <label><input type="checkbox" id="absolute"> wall-clock times</label>
        </div>
        <table id="transcript" class="transcript"><tbody></tbody></table>
        <p><button id="more" type="button" hidden>next messages</button></p>
        """

    static let stats = """
        <h1>Stats</h1>
        \(filterForm)
        <p id="totals"></p>
        <div id="chart" class="chart"></div>
        <div id="tables" class="stat-tables"></div>
        """

    static let replay = """
        <h1 id="title">Replay</h1>
        <p id="summary"></p>
        <table id="pair" class="pair">
        <thead><tr><th>step</th><th>original</th><th>replay</th></tr></thead>
        <tbody></tbody>
        </table>
        """
}
