extension Assets {
    static let stylesheet = #"""
    :root { --client: #1d5fbf; --server: #b3541e; --muted: #667; --line: #dde; font-family: system-ui, sans-serif; font-size: 14px; }
    body { margin: 0; color: #1b1b24; background: #fafafc; }
    header { display: flex; gap: 1.5em; align-items: center; padding: .5em 1em; background: #23232f; color: #fff; }
    header a { color: #fff; text-decoration: none; margin-right: 1em; }
    .brand { font-weight: 700; }
    .live { margin-left: auto; font-size: 12px; padding: .15em .6em; border-radius: 1em; }
    .live.on { background: #1f7a3a; } .live.off { background: #8a2b2b; } .live.idle { background: #555; }
    main { padding: 1em; }
    h1 { font-size: 1.3em; margin: .2em 0 .6em; }
    .error-text { color: #8a2b2b; font-weight: 600; }
    .filters { display: flex; flex-wrap: wrap; gap: .5em 1em; margin-bottom: 1em; align-items: end; }
    .filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
    table { border-collapse: collapse; }
    th, td { text-align: left; padding: .25em .6em; border-bottom: 1px solid var(--line); vertical-align: top; }
    th { font-size: 12px; color: var(--muted); font-weight: 600; }
    .number { text-align: right; font-variant-numeric: tabular-nums; }
    .sessions td { white-space: nowrap; font-variant-numeric: tabular-nums; }
    tr.fresh { animation: fresh 2s ease-out; }
    @keyframes fresh { from { background: #fff3b0; } to { background: transparent; } }
    .open { color: #1f7a3a; font-weight: 600; }
    .facts { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; }
    .facts dt { color: var(--muted); }
    .facts dd { margin: 0; }
    .downloads a { margin-right: 1em; }
    .toolbar { display: flex; gap: 1.5em; align-items: center; margin: .8em 0; }
    .toolbar button[aria-pressed="true"] { background: #23232f; color: #fff; }
    .transcript td { font-family: ui-monospace, monospace; font-size: 13px; }
    .transcript pre { margin: 0; white-space: pre-wrap; word-break: break-all; }
    .transcript .time { color: var(--muted); white-space: nowrap; }
    .arrow { font-weight: 700; }
    .client .arrow, .client .label { color: var(--client); }
    .server .arrow, .server .label { color: var(--server); }
    .cut { color: var(--muted); font-style: italic; }
    h2 { font-size: 1.1em; margin: 1em 0 .4em; }
    .exchanges td { font-family: ui-monospace, monospace; font-size: 13px; }
    .exchanges .target { max-width: 60em; word-break: break-all; }
    .exchanges .error { color: #8a2b2b; font-weight: 600; }
    .transcript pre.details { color: var(--muted); padding-left: 2em; }
    .chart svg { background: #fff; border: 1px solid var(--line); }
    .stat-tables { display: flex; flex-wrap: wrap; gap: 2em; margin-top: 1em; }
    .pair td { font-family: ui-monospace, monospace; font-size: 13px; white-space: pre-wrap; word-break: break-all; max-width: 40em; }
    .pair tr.differs { background: #fde8e8; }
    .pair .note { color: #8a2b2b; font-family: system-ui, sans-serif; }
    """#
}
