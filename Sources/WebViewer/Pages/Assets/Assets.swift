import Hummingbird

/// The stylesheet and scripts, compiled into the binary: nothing is fetched from elsewhere.
enum Assets {
    static let files: [String: (contentType: String, text: String)] = [
        "style.css": ("text/css; charset=utf-8", stylesheet),
        "common.js": ("text/javascript; charset=utf-8", commonScript),
        "list.js": ("text/javascript; charset=utf-8", listScript),
        "session.js": ("text/javascript; charset=utf-8", sessionScript),
        "stats.js": ("text/javascript; charset=utf-8", statsScript),
        "replay.js": ("text/javascript; charset=utf-8", replayScript),
    ]
}
