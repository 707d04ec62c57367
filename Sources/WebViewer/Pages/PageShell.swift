import Hummingbird

/// The HTML of every page: fixed markup from this binary, no recorded byte in it. The page's
/// script fills it through the JSON API, as text.
enum PageShell {
    enum Page: String, CaseIterable {
        case list, session, stats, replay

        var title: String {
            switch self {
            case .list: "sessions"
            case .session: "session"
            case .stats: "stats"
            case .replay: "replay pair"
            }
        }

        var body: String {
            switch self {
            case .list: PageBodies.list
            case .session: PageBodies.session
            case .stats: PageBodies.stats
            case .replay: PageBodies.replay
            }
        }
    }

    static func html(_ page: Page) -> String {
        document(title: page.title, main: page.body, scripts: ["/assets/common.js", "/assets/\(page.rawValue).js"])
    }

    static func response(_ page: Page) -> Response {
        htmlResponse(.ok, html(page))
    }

    /// A page that says what went wrong; `message` is escaped, the rest is fixed.
    static func errorPage(status: HTTPResponse.Status, message: String) -> Response {
        let main = """
            <h1>\(status.code) \(escape(status.reasonPhrase))</h1>
            <p class="error-text">\(escape(message))</p>
            <p><a href="/">sessions</a></p>
            """
        return htmlResponse(status, document(title: "error", main: main, scripts: []))
    }

    private static func document(title: String, main: String, scripts: [String]) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>wirelog · \(title)</title>
        <link rel="stylesheet" href="/assets/style.css">
        \(scripts.map { "<script src=\"\($0)\" defer></script>" }.joined(separator: "\n"))
        </head>
        <body>
        <header>
        <a class="brand" href="/">wirelog</a>
        <nav><a href="/">sessions</a> <a href="/stats">stats</a></nav>
        <span id="live" class="live" title="live updates" hidden></span>
        </header>
        <main>
        <p id="error" class="error-text" role="alert" hidden></p>
        \(main)
        </main>
        </body>
        </html>
        """
    }

    private static func htmlResponse(_ status: HTTPResponse.Status, _ html: String) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    /// For the one page built here with text in it (the error page).
    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
