import ArgumentParser
import Backends
import Foundation
import Presentation
import Recording
import SessionFormats

struct SessionsFollow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "follow",
        abstract: "Print messages as they are recorded, like tail -f.",
        discussion: """
            Starts after the newest message already recorded and polls for new ones until \
            interrupted (Ctrl-C). When a session it printed ends, a line says so (how and its \
            counts). A store that does not exist yet is waited for. --client, --kind, --since and \
            --until pick sessions; --verb and --code pick messages. Times: \(TimeSpan.forms).

            Examples:
              wirelog sessions follow
              wirelog sessions follow --client 10.0.0.7 --json
              wirelog sessions follow --verb DATA --max-messages 10
            """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var filters: OpenSessionFilterOptions

    @Option(parsing: .unconditional, help: "How often to look for new messages.")
    var interval = TimeSpan(microseconds: 200_000)

    @Option(parsing: .unconditional, help: "Stop after printing this many messages.")
    var maxMessages: Int?

    @Option(parsing: .unconditional, help: "Stop after this long (exit status 0).")
    var timeout: TimeSpan?

    @Flag(help: "One JSON object per message (NDJSON).")
    var json = false

    func validate() throws {
        guard interval.microseconds > 0 else { throw ValidationError("--interval must be positive") }
        if let maxMessages, maxMessages <= 0 { throw ValidationError("--max-messages must be positive") }
    }

    func run() async throws {
        try await reportingErrors {
            let location = try database.location
            let deadline = timeout.map { WallClock.nowMicros() + $0.microseconds }
            guard let store = try await openWhenCreated(location, deadline: deadline) else { return }
            do {
                try await follow(store, from: location, deadline: deadline)
            } catch {
                await store.close()
                throw error
            }
            await store.close()
        }
    }

    /// The store, once a recorder has created it (saying once that it waits); nil at the deadline.
    private func openWhenCreated(_ location: StoreLocation, deadline: Int64?) async throws -> (any RecordingStore)? {
        var saidSo = false
        while true {
            do {
                return try await location.openStore(.read)
            } catch let error as any StoreFailure where error.isNotCreatedYet {
                if !saidSo {
                    printError("\(location) does not exist yet; waiting for a recorder to create it (Ctrl-C stops)")
                    saidSo = true
                }
                if let deadline, WallClock.nowMicros() >= deadline { return nil }
                pause()
            }
        }
    }

    private func follow(_ store: any RecordingStore, from location: StoreLocation, deadline: Int64?) async throws {
        let filter = try filters.filter()
        let cursor = try await store.follow()
        var printed = 0
        // The sessions whose messages were printed, until their end is.
        var openSessions: [Int64: SessionSummary] = [:]
        printError("following \(location); Ctrl-C stops")
        while true {
            // Ends first: a message committed before a session's end is then in the batch read after,
            // so the end line comes after the session's last message.
            let ended = openSessions.isEmpty ? [] : try await store.endedSessions(among: Array(openSessions.keys))
            let batch = try await cursor.next(filter, limit: 1_000)
            // Only a session's first header line is printed, which no counter is in.
            var unseen = Set(batch.map(\.sessionID)).subtracting(openSessions.keys)
            for session in try await store.sessions(unseen.sorted(), countingOpen: false) {
                openSessions[session.id] = session
            }
            for message in batch {
                // A session deleted meanwhile has no header to print its messages under.
                guard let session = openSessions[message.sessionID] else { continue }
                if unseen.remove(message.sessionID) != nil, !json { Transcript.header(session).prefix(1).forEach { Output.line($0) } }
                if json {
                    Output.line(try JSONOutput.line(MessageJSON(message, sessionStartedMicros: session.startedMicros)))
                } else {
                    Output.line("#\(message.sessionID)" + Transcript().line(message, sessionStartedMicros: session.startedMicros))
                }
                printed += 1
                if let maxMessages, printed >= maxMessages {
                    Output.flush()
                    return
                }
            }
            for session in ended {
                openSessions[session.id] = nil
                Output.line(json ? try JSONOutput.line(SessionJSON(session)) : "#\(session.id) " + Transcript.ending(session))
            }
            Output.flush()
            if let deadline, WallClock.nowMicros() >= deadline { return }
            if batch.count < 1_000 { pause() }
        }
    }

    private func pause() {
        usleep(useconds_t(min(interval.microseconds, 10_000_000)))
    }
}
