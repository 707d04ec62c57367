import ArgumentParser
import Backends
import Foundation
import Logging
import NIOCore
import Presentation
import Replay
import Recording

extension Pace: ExpressibleByArgument {}

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay recorded sessions against a server and report every difference.",
        discussion: """
            Each session is replayed on its own connection: wait for what the server sent before the \
            client's first message, then send each client message byte for byte and compare what comes \
            back with what was recorded. A message whose secrets were redacted is sent with the \
            --secret values in place of the tokens, and is not sent at all without them. Exit status: 0 \
            everything matched, 1 a difference, 2 could not run (database, connection refused, no such \
            session), 3 incomplete: a redacted message was not sent for want of a --secret, and nothing \
            else differed. Times: \(TimeSpan.forms). See docs/REPLAY.md.
            """)

    @OptionGroup var sessions: SessionSelectionOptions

    @Option(help: "The server to replay against.", transform: HostPort.parse)
    var to: HostPort

    @Option(help: "fast: send as soon as the recorded reply is in; original: keep the recorded gaps.")
    var pace: Pace = .fast

    @Option(parsing: .unconditional, help: "With --pace original, play this many times faster (0.5 is half speed).")
    var speed: Double = 1

    @Option(parsing: .unconditional, help: "Longest wait for a connection, a reply or a close.")
    var timeout = TimeSpan(microseconds: 5_000_000)

    @Option(help: ArgumentHelp("Mask what matches this regular expression in recorded and actual replies before comparing (repeatable).", valueName: "regex"))
    var ignore: [String] = []

    @Option(help: ArgumentHelp("A rules file (ignore-header NAME, ignore-query NAME, ignore-json PATH, ignore-field NAME, one a line): fields of HTTP, RESP and PostgreSQL replies left out of the comparison.", valueName: "file"))
    var rules: String?

    @Option(help: ArgumentHelp("Leave this header out when comparing HTTP replies (repeatable).", valueName: "name"))
    var ignoreHeader: [String] = []

    @Option(name: .customLong("ignore-json"), help: ArgumentHelp("Leave this JSON path out when comparing replies ($.a.b, $.items[*].id; repeatable).", valueName: "path"))
    var ignoreJSON: [String] = []

    @Option(parsing: .unconditional, help: ArgumentHelp("Replay the sessions N times and write the fields that differ from the recording as rules (with --write-rules).", valueName: "N"))
    var learnNoise: Int?

    @Option(help: ArgumentHelp("With --learn-noise: the rules file to write.", valueName: "file"))
    var writeRules: String?

    @Option(help: ArgumentHelp("What to send in place of the tokens of a redaction rule (or of one token, REDACTED-…): VALUE, or @ENVVAR to read it from the environment (repeatable).", valueName: "rule=value"))
    var secret: [String] = []

    @Option(parsing: .unconditional, help: "Sessions replayed at once.")
    var concurrency = 1

    @Flag(help: "One JSON object per line: every step, every session, then a summary.")
    var json = false

    @Flag(help: "Record each replay as a new session (kind replay) pointing to the session it replays.")
    var record = false

    @Option(help: ArgumentHelp("With --record: the recorder's name stored with each replay session (default: this host's name).", valueName: "name"))
    var recorderName: String = RecorderName.hostName

    @OptionGroup(title: "Redaction (of --record, and of the replies a report shows)") var redaction: RedactionOptions

    @OptionGroup(title: "TLS") var tls: ClientTLSOptions

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard speed > 0, speed.isFinite else { throw ValidationError("--speed must be a positive number") }
        guard concurrency > 0 else { throw ValidationError("--concurrency must be positive") }
        guard timeout.microseconds > 0 else { throw ValidationError("--timeout must be positive") }
        guard to.port > 0 else { throw ValidationError("--to needs a port other than 0") }
        if speed != 1 && pace != .original { throw ValidationError("--speed only applies with --pace original") }
        do {
            _ = try Masking(patterns: ignore)
        } catch {
            throw ValidationError(error.description)
        }
        _ = try secrets()
        _ = try matchRules()
        if let learnNoise, learnNoise <= 0 { throw ValidationError("--learn-noise must be positive") }
        if (learnNoise == nil) != (writeRules == nil) { throw ValidationError("--learn-noise and --write-rules go together") }
        let selection = try sessions.selection()
        guard !selection.ids.isEmpty || selection.hasFilters else {
            throw ValidationError("name the sessions to replay: ids, or filters such as --since 1h, --kind, --client, --verb, --limit")
        }
    }

    /// `--secret` values; `@NAME` reads the environment variable NAME (so the value stays out of
    /// the shell history and the process list).
    private func secrets() throws -> ReplaySecrets {
        var secrets = ReplaySecrets()
        for item in secret {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw ValidationError("--secret \(item.prefix { $0 != "=" }): give RULE=VALUE or RULE=@ENVVAR")
            }
            let name = String(item[..<equals])
            var value = String(item[item.index(after: equals)...])
            if value.hasPrefix("@") {
                let variable = String(value.dropFirst())
                guard let fromEnvironment = ProcessInfo.processInfo.environment[variable] else {
                    throw ValidationError("--secret \(name)=@\(variable): the environment has no variable \(variable)")
                }
                value = fromEnvironment
            }
            secrets.set(name, Array(value.utf8))
        }
        return secrets
    }

    /// `--rules` and the `--ignore-header`/`--ignore-json` options together.
    private func matchRules() throws -> MatchRules {
        do {
            return try MatchRules.gathered(headers: ignoreHeader, jsonPaths: ignoreJSON, file: rules)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        let logger = logging.makeLogger(label: "wirelog.replay")
        // The recorder first: it creates or upgrades the store the reader then checks.
        var redactor: Redactor?
        let (store, sink, ids) = try await reportingErrors { () async throws -> (any RecordingStore, (any RecordingSink)?, [Int64]) in
            let location = try database.location
            var settings = RecorderSettings()
            settings.recorderName = recorderName
            try redaction.apply(to: &settings)
            let sink = record ? try await location.openRecorder(settings, logger: logger) : nil
            if let sink { logger.info("\(Redactor.inForce(sink.redactor))") }
            do {
                let store = try await location.openStore(.read)
                redactor = try await store.redaction().redactor(adding: try redaction.rules(), useStoreRules: !redaction.noStoreRules)
                return (store, sink, try await sessions.selection().resolve(in: store))
            } catch let error as SelectionError {
                await sink?.shutdown()
                // Not the store's fault, but as final: one line, exit 2.
                printError("\(error)")
                throw ExitCode(2)
            } catch {
                await sink?.shutdown()
                throw error
            }
        }

        var options = ReplayOptions(host: to.host, port: to.port)
        options.pace = pace
        options.speed = speed
        options.timeout = .microseconds(timeout.microseconds)
        options.ignore = ignore
        options.concurrency = concurrency
        options.recorderName = recorderName
        options.tls = try tls.clientTLS()
        options.secrets = try secrets()
        options.redactor = redactor
        options.rules = try matchRules()
        let replayer = try Replayer(options: options, store: store, sink: sink)
        if let learnNoise, let writeRules {
            let learnt = await replayer.learnNoise(ids, runs: learnNoise)
            await sink?.shutdown()
            await store.close()
            try learn(learnt, given: options.rules, runs: learnNoise, sessions: ids.count, file: writeRules)
            return
        }

        let output = Output(json: json, total: ids.count)
        let summary = await replayer.run(ids) { report in output.session(report) }
        await sink?.shutdown()
        await store.close()
        output.finishProgress()

        let text = json ? ReplayOutput.json(summary, recorded: output.recordedReplays) : ReplayOutput.text(summary, recorded: output.recordedReplays)
        FileHandle.standardOutput.write(Data(text.utf8))
        if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
    }
}

extension ReplayCommand {
    /// Writes what `--learn-noise` found, with the rules `given`, to `file` and says so; exit 2 when
    /// a session could not be replayed.
    private func learn(_ learnt: NoiseLearnt, given: MatchRules, runs: Int, sessions: Int, file: String) throws {
        var rules = learnt.rules
        rules.merge(given)
        let text = rules.fileText
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        } catch {
            printError("cannot write the rules to \(file): \(error.localizedDescription)")
            throw ExitCode(2)
        }
        let count = text.split(separator: "\n").count - 1
        var line = "replayed \(counted(sessions, "session")) \(counted(runs, "time")): \(counted(count, "rule")) written to \(file)"
        if learnt.byteMismatches > 0 {
            line += "; \(counted(learnt.byteMismatches, "step")) differed by bytes, which no rule can leave out (use --ignore REGEX)"
        }
        print(line)
        if learnt.sessionsNotRun > 0 {
            printError("\(counted(learnt.sessionsNotRun, "session replay")) could not run")
            throw ExitCode(2)
        }
    }

    /// Writes reports as they come (from any replay task) and keeps the progress line.
    final class Output: @unchecked Sendable {
        private let lock = NSLock()
        private let json: Bool
        private let total: Int
        private let showProgress = isatty(STDERR_FILENO) == 1
        private let reportsOnTerminal = isatty(STDOUT_FILENO) == 1
        private let started = Date()
        // Guarded by `lock`.
        private var done = 0
        private var mismatches = 0
        private var lastProgress = Date.distantPast
        private var replays: [(original: Int64, replay: Int64)] = []

        init(json: Bool, total: Int) {
            self.json = json
            self.total = total
        }

        func session(_ report: SessionReport) {
            let text = json ? ReplayOutput.json(report) : ReplayOutput.text(report)
            lock.withLock {
                done += 1
                mismatches += report.mismatches + report.skipped
                if let replay = report.recordedSessionID { replays.append((report.sessionID, replay)) }
                // Reports on the same terminal go above the progress line, which is then drawn again.
                if showProgress && reportsOnTerminal { ProgressLine.clear() }
                FileHandle.standardOutput.write(Data(text.utf8))
                let now = Date()
                if showProgress && (reportsOnTerminal || now.timeIntervalSince(lastProgress) > 0.2 || done == total) {
                    lastProgress = now
                    let rate = Double(done) / max(now.timeIntervalSince(started), 0.001)
                    let line = "replayed \(done)/\(counted(total, "session")), \(counted(mismatches, "mismatch")), \(String(format: "%.1f", rate)) sessions/s"
                    ProgressLine.show(line)
                }
            }
        }

        func finishProgress() {
            lock.withLock { if showProgress { ProgressLine.clear() } }
        }

        /// Sessions whose replay was recorded, with the replay's own session.
        var recordedReplays: [(original: Int64, replay: Int64)] { lock.withLock { replays.sorted { $0.original < $1.original } } }

        private func clearProgress() {
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        }
    }
}
