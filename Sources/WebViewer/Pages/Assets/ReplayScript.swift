extension Assets {
    /// A replay beside the session it replayed, step by step, differing steps marked.
    static let replayScript = #"""
    "use strict";

    const replayID = Number(location.pathname.split("/")[2]);

    function side(sent, reply) {
      const cell = el("td", {});
      if (sent != null && sent !== "") cell.append(el("div", { text: "→ " + sent }));
      if (reply != null) cell.append(el("div", { text: "← " + reply }));
      return cell;
    }

    async function load() {
      try {
        const pair = await getJSON("/api/replays/" + replayID);
        document.getElementById("title").textContent = "Replay " + pair.replay.id + " of session " + pair.original.id;
        document.getElementById("summary").replaceChildren(
          sessionLink(pair.original.id), " " + pair.original.server_text + " (original) · ",
          sessionLink(pair.replay.id), " " + pair.replay.server_text + " (replay) · ",
          pair.differing + " of " + pair.steps.length + " steps differ");
        const rows = pair.steps.map(step => {
          const number = el("td", { text: step.number + (step.kind === "send" ? "" : " " + step.kind) });
          if (step.first_difference) number.append(el("div", { class: "note", text: "first difference at byte " + step.first_difference[0] }));
          const sides = step.kind === "close" ? [el("td", { text: step.ending }), el("td", { text: step.replay_ending })]
            : [side(step.sent, step.expected), side(step.replay_sent, step.actual)];
          return el("tr", { class: step.differs ? "differs" : "" }, number, ...sides);
        });
        document.querySelector("#pair tbody").replaceChildren(...rows);
        showError(null);
      } catch (error) { showError(error); }
    }

    load();
    """#
}
