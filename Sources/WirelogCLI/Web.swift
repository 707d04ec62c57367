import ArgumentParser
import Backends
import Foundation
import Hummingbird
import Logging
import Presentation
import ServiceLifecycle
import WebViewer

struct Web: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Look at recordings in a browser: sessions, transcripts, stats, replays, live (read-only).",
        discussion: """
            Serves pages and a JSON API (docs/WEB.md) from this binary; nothing is fetched from \
            elsewhere. It only reads the store. Listening anywhere but loopback needs a token, \
            checked on every request.

            Examples:
              wirelog web --db lab.sqlite                      # http://127.0.0.1:8080
              openssl rand -hex 16 > web.token && chmod 600 web.token
              wirelog web --listen 0.0.0.0:8080 --token-file web.token
              WIRELOG_WEB_TOKEN=$(openssl rand -hex 16) wirelog web --listen 0.0.0.0:8080
              wirelog serve --web 127.0.0.1:8080               # the same viewer inside the recorder
            """)

    static let defaultListen = HostPort(host: "127.0.0.1", port: 8080)

    @Option(help: "Address to listen on (port 0 picks a free one). (default: \(defaultListen))", transform: HostPort.parse)
    var listen = defaultListen

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var access: WebAccessOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        try access.validate(listen)
    }

    func run() async throws {
        let logger = logging.makeLogger(label: "wirelog.web")
        let location = try database.location
        // A store that cannot be opened now is one line and exit 2; later failures are error pages.
        let store = try await withStore(database) { _ in ViewerStore { try await location.openStore(.read) } }
        let viewer = access.viewer(listen, store: store, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: viewer)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            printError("cannot listen on \(listen): \(NetworkErrorText.reason(error))")
            throw ExitCode(2)
        }
        await store.close()
    }
}

/// Who may look at a viewer (`web`, and `serve`/`proxy --web`).
struct WebAccessOptions: ParsableArguments {
    // The file comes first in --help: a token in the arguments is visible to every user of the machine (ps).
    @Option(help: ArgumentHelp("A file holding the viewer's token (its first line; or set $WIRELOG_WEB_TOKEN). Every request must then carry it (Authorization: Bearer TOKEN, or open the page once with ?token=TOKEN); listening beyond loopback needs one.", valueName: "file"),
            transform: WebAccessOptions.readTokenFile)
    var tokenFile: String?

    @Option(help: ArgumentHelp("The token itself, which other users of this machine can read in the process list: prefer $WIRELOG_WEB_TOKEN or --token-file.", valueName: "token"))
    var token: String?

    var resolvedToken: String? {
        token ?? tokenFile ?? ProcessInfo.processInfo.environment["WIRELOG_WEB_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The file's first line, without the line end `echo` and `openssl rand -hex` leave. Only its
    /// start is read: a token is short, and `/dev/zero` never ends.
    static func readTokenFile(_ path: String) throws -> String {
        let data: Data
        do {
            guard let handle = FileHandle(forReadingAtPath: path) else { throw CocoaError(.fileReadUnknown) }
            defer { try? handle.close() }
            data = try handle.read(upToCount: 4_096) ?? Data()
        } catch {
            let reason = access(path, R_OK) == 0 ? "it is not a file" : String(cString: strerror(errno)).lowercased()
            throw ValidationError("cannot read it: \(reason)")
        }
        let line = String(decoding: data, as: UTF8.self).split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let token = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if token.isEmpty { throw ValidationError("its first line is empty: put the token there") }
        return token
    }

    func settings(_ listen: HostPort) -> WebViewerSettings {
        WebViewerSettings(host: listen.host, port: listen.port, token: resolvedToken)
    }

    func validate(_ listen: HostPort) throws {
        if token != nil && tokenFile != nil { throw ValidationError("give --token or --token-file, not both") }
        do {
            try settings(listen).validate()
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The viewer as a service, with a warning when other machines can reach it; `addRoutes` as
    /// `WebViewer.application`'s.
    func viewer(_ listen: HostPort, store: ViewerStore, logger: Logger,
                addRoutes: (Router<BasicRequestContext>) -> Void = { _ in }) -> some Service {
        let settings = settings(listen)
        if !settings.isLoopback {
            logger.warning("the web viewer on \(listen) shows recorded traffic to every machine that reaches it and has the token")
        }
        return WebViewer.application(store: store, settings: settings, logger: logger, addRoutes: addRoutes) { port in
            logger.notice("web viewer on http://\(HostPort(host: listen.host, port: port))/")
        }
    }
}
