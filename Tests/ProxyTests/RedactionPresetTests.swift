import Backends
import Client
import Crypto
import _CryptoExtras
import Foundation
import Recording
import Testing
import TestSupport

/// Each redaction preset against real clients and servers: the secret never reaches the store's
/// files (SQLite file, -wal, -shm; a pg_dump for PostgreSQL), the recording keeps the spans and the
/// true lengths, `show` marks them, and `replay --secret` still plays the session.
@Suite struct RedactionPresetTests {
    @Test(arguments: TestBackend.allCases)
    func redisAuthInEveryFormStaysOffTheDisk(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let password = "supersecretpassword"
        let redisPort = try freePort()
        let redis = try Program("redis-server", [
            "--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", password,
        ], directory: directory.path)
        defer { redis.stop() }
        try await waitUntilListening(port: redisPort)
        let store = try backend.freshStore(in: directory)
        let proxy = try await ProxyHarness.start(upstreamPort: redisPort, store: store, redaction: RedactionPreset.redisAuth.rules())
        let port = String(proxy.port)
        // -a: AUTH in RESP before the command; AUTH with a user; HELLO 3 AUTH; inline AUTH as typed into nc.
        #expect(try await onThread { try Program.run("redis-cli", ["-p", port, "--no-auth-warning", "-a", password, "PING"]) } == "PONG\n")
        #expect(try await onThread { try Program.run("redis-cli", ["-p", port, "AUTH", "default", password]) } == "OK\n")
        let hello = try await onThread { try Program.run("redis-cli", ["-p", port, "HELLO", "3", "AUTH", "default", password]) }
        #expect(hello.contains("redis"))
        let inline = try TestSocket.connect(port: proxy.port)
        try inline.send(Array("AUTH \(password)\r\nPING\r\n".utf8))
        var replies: [UInt8] = []
        while replies.count < "+OK\r\n+PONG\r\n".utf8.count, let chunk = try inline.receive() { replies += chunk }
        #expect(String(decoding: replies, as: UTF8.self) == "+OK\r\n+PONG\r\n")
        inline.close()
        _ = try await endedSessions(store, count: 4)
        await proxy.stop()

        #expect(try StoreFiles.occurrences(of: password, in: store) == 0)
        let sessions = try await RecordedRows.sessions(store)
        try await expectHonestRecords(store, sessions: sessions.map(\.id), rule: "redis-auth", spans: 4)

        // Replayed with the secret, the first session authenticates and matches; without it, the
        // AUTH step is not sent and the exit code says the replay is incomplete.
        let first = String(sessions[0].id)
        let withSecret = try WirelogProcess.run(["replay", first, "--db", store.argument, "--to", "127.0.0.1:\(redisPort)",
                                                 "--secret", "redis-auth=@REDIS_SECRET"], environment: ["REDIS_SECRET": password])
        #expect(withSecret.status == 0, "\(withSecret.stdoutText)\(withSecret.stderrText)")
        let without = try WirelogProcess.run(["replay", first, "--db", store.argument, "--to", "127.0.0.1:\(redisPort)"])
        #expect(without.status == 3)
        #expect(without.stdoutText.contains("REDACTED, not sent: no --secret for redis-auth"))
        #expect(!without.stdoutText.contains(password) && !withSecret.stdoutText.contains(password))

        // A password of another length: the RESP length in front of it is put right, so the
        // server reads the whole AUTH and the session matches as before.
        let shorter = "pw42"
        _ = try await onThread { try Program.run("redis-cli", ["-p", String(redisPort), "--no-auth-warning", "-a", password, "CONFIG", "SET", "requirepass", shorter]) }
        let changed = try WirelogProcess.run(["replay", first, "--db", store.argument, "--to", "127.0.0.1:\(redisPort)", "--timeout", "2s",
                                              "--secret", "redis-auth=\(shorter)"])
        #expect(changed.status == 0, "\(changed.stdoutText)\(changed.stderrText)")
    }

    @Test(arguments: TestBackend.allCases)
    func curlBasicAuthAndCookiesStayOffTheDisk(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let site = directory.file("site")
        try FileManager.default.createDirectory(atPath: site, withIntermediateDirectories: true)
        try Data("hello\n".utf8).write(to: URL(fileURLWithPath: site + "/index.txt"))
        let httpPort = try freePort()
        let server = try Program("python3", ["-m", "http.server", String(httpPort), "--bind", "127.0.0.1", "--directory", site])
        defer { server.stop() }
        try await waitUntilListening(port: httpPort)
        let store = try backend.freshStore(in: directory)
        let proxy = try await ProxyHarness.start(upstreamPort: httpPort, store: store, redaction: RedactionPreset.httpAuth.rules())
        let credentials = "alice:basic-auth-secret"
        let cookie = "session-cookie-secret-42"
        // One Host wherever it goes, so that the mock below gets the request the proxy recorded.
        let curl: @Sendable (Int, String) throws -> String = { port, cookie in
            try Program.run("curl", ["-sS", "--max-time", "20", "-u", credentials, "-b", "sid=\(cookie)", "-H", "Host: wirelog.test",
                                     "-H", "Proxy-Authorization: Bearer proxy-token-secret", "http://127.0.0.1:\(port)/index.txt"])
        }
        let body = try await onThread { try curl(proxy.port, cookie) }
        #expect(body == "hello\n")
        _ = try await endedSessions(store, count: 1)
        await proxy.stop()

        let basic = Data(credentials.utf8).base64EncodedString()
        for secret in [basic, cookie, "proxy-token-secret"] {
            #expect(try StoreFiles.occurrences(of: secret, in: store) == 0, "\(secret)")
        }
        let session = try #require(try await RecordedRows.sessions(store).first)
        try await expectHonestRecords(store, sessions: [session.id], rule: "http-auth", spans: 3)
        // The request still replays, each header value sent from --secret by its token.
        let values = ["Authorization": "Basic \(basic)", "Cookie": "sid=\(cookie)", "Proxy-Authorization": "Bearer proxy-token-secret"]
        var secrets: [String] = []
        for message in try await location(store, { try await $0.messages(ofSession: session.id) }) {
            for span in message.redactions {
                let lineStart = message.raw[..<span.offset].lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
                let header = String(decoding: message.raw[lineStart..<span.offset], as: UTF8.self)
                    .trimmingCharacters(in: .whitespaces).dropLast()
                secrets += ["--secret", "\(span.token(in: message.raw))=\(try #require(values[String(header)]))"]
            }
        }
        let replay = try WirelogProcess.run(["replay", String(session.id), "--db", store.argument, "--to", "127.0.0.1:\(httpPort)",
                                             "--ignore", #"Date: [^\r]*"#] + secrets)
        #expect(replay.status == 0, "\(replay.stdoutText)\(replay.stderrText)")

        // Matching whole requests (`--match bytes`; by field, headers are not compared), the mock
        // answers curl sending the recorded credentials (matched by their tokens) and misses
        // another cookie; neither its log nor the store it records into holds a secret.
        let mock = try WirelogProcess(["mock", String(session.id), "--db", store.argument, "--listen", "127.0.0.1:0", "--match", "bytes"])
        let mockPort = try mock.listeningPort()
        #expect(try await onThread { try curl(mockPort, cookie) } == "hello\n")
        await #expect(throws: (any Error).self) { try await onThread { try curl(mockPort, "another-cookie-secret") } }
        _ = try mock.waitForStderr(containing: "no recorded request matches")
        mock.signal(SIGINT)
        let ended = try mock.wait()
        #expect(ended.failure == nil)
        for secret in [basic, cookie, "proxy-token-secret", "another-cookie-secret"] {
            #expect(try StoreFiles.occurrences(of: secret, in: store) == 0, "\(secret)")
            #expect(!ended.stderrText.contains(secret) && !replay.stdoutText.contains(secret), "\(secret)")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func smtpAuthPlainAndLoginStayOffTheDisk(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let password = "smtp-secret-pw"
        let smtpPort = try freePort()
        let smtp = try SMTPServerFixture.start(in: directory, port: smtpPort, password: password)
        defer { smtp.stop() }
        try await waitUntilListening(port: smtpPort)
        let store = try backend.freshStore(in: directory)
        let proxy = try await ProxyHarness.start(upstreamPort: smtpPort, store: store, redaction: RedactionPreset.smtpAuth.rules())
        let clientScript = directory.file("smtp_client.py")
        try Data("""
            import smtplib, sys
            client = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20)
            client.ehlo()
            client.user, client.password = "alice", "\(password)"
            mechanism = sys.argv[2]
            code, _ = client.auth(mechanism, getattr(client, "auth_" + mechanism.lower()), initial_response_ok=mechanism == "PLAIN")
            print(code)
            client.quit()
            """.utf8).write(to: URL(fileURLWithPath: clientScript))
        for mechanism in ["PLAIN", "LOGIN"] {
            let output = try await onThread { try Program.run("/usr/bin/python3", [clientScript, String(proxy.port), mechanism]) }
            #expect(output == "235\n", "\(mechanism)")
        }
        _ = try await endedSessions(store, count: 2)
        await proxy.stop()

        let secrets = [password, Data("\0alice\0\(password)".utf8).base64EncodedString(), Data(password.utf8).base64EncodedString(),
                       Data("alice".utf8).base64EncodedString()]
        for secret in secrets {
            #expect(try StoreFiles.occurrences(of: secret, in: store) == 0, "\(secret)")
        }
        let sessions = try await RecordedRows.sessions(store)
        // PLAIN: the initial response; LOGIN: the user name and the password lines.
        try await expectHonestRecords(store, sessions: sessions.map(\.id), rule: "smtp-auth", spans: 3)
        // The PLAIN session replays against the server, the initial response sent from --secret;
        // recorded, with no rule given, under the store's rules.
        let replay = try WirelogProcess.run(["replay", String(sessions[0].id), "--db", store.argument, "--to", "127.0.0.1:\(smtpPort)",
                                             "--secret", "smtp-auth=\(secrets[1])", "--record"])
        #expect(replay.status == 0, "\(replay.stdoutText)\(replay.stderrText)")
        #expect(replay.stderrText.contains("redaction rules in force: smtp-auth"), "\(replay.stderrText)")

        // The mock, with no rule given, records under the store's rules, and matches a request by
        // its secret's token: the right password is answered as recorded, another one misses,
        // and the miss is logged as the store would hold it.
        let mock = try WirelogProcess(["mock", String(sessions[0].id), "--db", store.argument, "--listen", "127.0.0.1:0"])
        let mockPort = try mock.listeningPort()
        #expect(try await onThread { try Program.run("/usr/bin/python3", [clientScript, String(mockPort), "PLAIN"]) } == "235\n")
        let wrongScript = directory.file("smtp_wrong.py")
        try Data(String(decoding: try Data(contentsOf: URL(fileURLWithPath: clientScript)), as: UTF8.self)
            .replacingOccurrences(of: password, with: "other-secret-pw").utf8).write(to: URL(fileURLWithPath: wrongScript))
        await #expect(throws: (any Error).self) {
            try await onThread { try Program.run("/usr/bin/python3", [wrongScript, String(mockPort), "PLAIN"]) }
        }
        let log = try mock.waitForStderr(containing: "no recorded request matches \"AUTH PLAIN REDACTED-")
        mock.signal(SIGINT)
        let ended = try mock.wait()
        #expect(ended.failure == nil)
        #expect(log.contains("redaction rules in force: smtp-auth"), "\(log)")
        let wrong = Data("\0alice\0other-secret-pw".utf8).base64EncodedString()
        for secret in secrets + ["other-secret-pw", wrong, String(wrong.prefix(12))] {
            #expect(try StoreFiles.occurrences(of: secret, in: store) == 0, "\(secret)")
            #expect(!ended.stderrText.contains(secret) && !replay.stdoutText.contains(secret) && !replay.stderrText.contains(secret), "\(secret)")
        }
        let mocked = try await RecordedRows.sessions(store).filter { $0.kind == "mock" }
        #expect(mocked.count == 2)
    }

    /// psql with a SCRAM-SHA-256 password: from the store alone, an attacker cannot check a
    /// guessed password (the salt and the server's signature are hidden, the proof always was).
    @Test(arguments: TestBackend.allCases)
    func scramRecordingsAllowNoOfflinePasswordCheck(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let server = try TestPostgres.serverAddress()
        /// psql through a proxy recording into a fresh store; the session's server messages.
        func recordedLogin(_ name: String, _ rules: [RedactionRule]) async throws -> (StoreLocation, Int64, [[UInt8]]) {
            let store = try backend.freshStore(in: directory, name: name)
            let proxy = try await ProxyHarness.start(upstreamPort: server.port, upstreamHost: server.host, store: store, redaction: rules)
            let answer = try TestPostgres.psql("postgres://wirelog_pw@127.0.0.1:\(proxy.port)/postgres?sslmode=disable",
                                               "SELECT 'scram through the proxy'", environment: ["PGPASSWORD": "right-password"])
            #expect(answer == "scram through the proxy")
            _ = try await endedSessions(store, count: 1)
            await proxy.stop()
            let session = try #require(try await RecordedRows.sessions(store).first)
            let messages = try await location(store) { try await $0.messages(ofSession: session.id) }
            return (store, session.id, messages.filter { $0.sender == .server }.map(\.raw))
        }
        // Without the preset the attack works: the check is the attacker's, not a typo.
        let (_, _, clear) = try await recordedLogin("clear", [])
        #expect(ScramAttacker.passwordChecks("right-password", server: clear) == true)
        #expect(ScramAttacker.passwordChecks("wrong-password", server: clear) == false)

        let (store, session, redacted) = try await recordedLogin("redacted", RedactionPreset.postgresPassword.rules())
        #expect(ScramAttacker.passwordChecks("right-password", server: redacted) == nil)
        // Client-first, client-final, server-first and server-final.
        try await expectHonestRecords(store, sessions: [session], rule: "postgres-password", spans: 4)
        #expect(try StoreFiles.occurrences(of: "right-password", in: store) == 0)
    }

    /// psql with each password method through the proxy: no password (cleartext, MD5) or proof
    /// (SCRAM) is stored. Then each session replayed (and recorded, under the store's rules)
    /// against the server: the replay logs in afresh with `--secret postgres-password`,
    /// answering this connection's own challenge, and matches.
    @Test(arguments: TestBackend.allCases)
    func psqlSessionsReplayWithEveryPasswordMethod(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let server = try TestPostgres.serverAddress()
        let store = try backend.freshStore(in: directory)
        let proxy = try await ProxyHarness.start(upstreamPort: server.port, upstreamHost: server.host, store: store,
                                                 redaction: RedactionPreset.postgresPassword.rules())
        let roles = [TestPostgres.cleartextRole, TestPostgres.md5Role, TestPostgres.scramRole]
        for role in roles {
            let answer = try TestPostgres.psql("postgres://\(role.user)@127.0.0.1:\(proxy.port)/postgres?sslmode=disable",
                                               "SELECT 'replayed login'", environment: ["PGPASSWORD": role.password])
            #expect(answer == "replayed login")
        }
        let sessions = try await endedSessions(store, count: 3)
        await proxy.stop()
        // A password message each; SCRAM's two, and the server's challenge and signature.
        try await expectHonestRecords(store, sessions: sessions.map(\.id), rule: "postgres-password", spans: 6)
        for role in roles {
            #expect(try StoreFiles.occurrences(of: role.password, in: store) == 0, "\(role.user)")
        }

        for (session, role) in zip(sessions, roles) {
            let replay = try WirelogProcess.run(["replay", String(session.id), "--db", store.argument, "--to", "\(server.host):\(server.port)",
                                                 "--secret", "postgres-password=@PG_SECRET", "--record"],
                                                environment: ["PG_SECRET": role.password])
            #expect(replay.status == 0, "\(role.user): \(replay.stdoutText)\(replay.stderrText)")
            #expect(replay.stdoutText.contains("logged in afresh as \(role.user)"), "\(replay.stdoutText)")
            #expect(!replay.stdoutText.contains(role.password) && !replay.stderrText.contains(role.password))
        }
        #expect(try await RecordedRows.sessions(store).filter { $0.kind == "replay" }.count == 3)
        for role in roles {
            #expect(try StoreFiles.occurrences(of: role.password, in: store) == 0, "\(role.user)")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func labDataPayloadsStayOffTheDiskOfServe(_ backend: TestBackend) async throws {
        let directory = TemporaryDirectory()
        let store = try backend.freshStore(in: directory)
        let server = try await TestServer.start(store: store, redaction: RedactionPreset.labData.rules())
        let connection = try await LabConnection.connect(host: "127.0.0.1", port: server.port)
        for command in ["HELO lab\n", "DATA first-lab-secret\n", "DATA first-lab-secret\n", "DATA\n", "second-lab-secret\r\n", "QUIT\n"] {
            try await connection.send(Array(command.utf8))
            if command != "DATA\n" { _ = try await connection.readReply() }
        }
        await connection.close()
        await server.stop()

        #expect(try StoreFiles.occurrences(of: "lab-secret", in: store) == 0)
        let session = try #require(try await RecordedRows.sessions(store).first)
        try await expectHonestRecords(store, sessions: [session.id], rule: "lab-data", spans: 3)
        let messages = try await location(store) { try await $0.messages(ofSession: session.id) }
        let data = messages.filter { $0.verb == "DATA" }
        // The same secret gives the same token; the payload column holds the token too.
        #expect(data[0].payload == data[1].payload)
        #expect(data[0].payload != data[2].payload)
        #expect(data.allSatisfy { String(decoding: $0.payload ?? [], as: UTF8.self).hasPrefix("REDACTED-") })
        let show = try WirelogProcess.run(["sessions", "show", String(session.id), "--db", store.argument])
        #expect(show.failure == nil)
        #expect(show.stdoutText.contains("⟦\(data[0].redactions[0].token(in: data[0].raw)) lab-data, 16 bytes⟧"), "\(show.stdoutText)")

        // replay --record sends the --secret value and records the replay redacted too.
        let target = try await TestServer.start(store: store) { $0.recording = false }
        let replay = try WirelogProcess.run(["replay", String(session.id), "--db", store.argument, "--to", "127.0.0.1:\(target.port)",
                                             "--record", "--redact-preset", "lab-data", "--secret", "lab-data=@LAB_SECRET"],
                                            environment: ["LAB_SECRET": "replayed-lab-secret"])
        await target.stop()
        #expect(replay.status == 0, "\(replay.stdoutText)\(replay.stderrText)")
        #expect(try StoreFiles.occurrences(of: "replayed-lab-secret", in: store) == 0)
        let replayed = try #require(try await RecordedRows.sessions(store).first { $0.kind == "replay" })
        try await expectHonestRecords(store, sessions: [replayed.id], rule: "lab-data", spans: 3)
    }
}

/// Every redacted span of these sessions names `rule`, there are `spans` of them, each message's
/// original length adds up to the session's byte counters.
private func expectHonestRecords(_ store: StoreLocation, sessions ids: [Int64], rule: String, spans: Int,
                                 sourceLocation: SourceLocation = #_sourceLocation) async throws {
    var found = 0
    for id in ids {
        let (summary, messages) = try await location(store) { (try await $0.session(id), try await $0.messages(ofSession: id)) }
        found += messages.reduce(0) { $0 + $1.redactions.count }
        #expect(messages.allSatisfy { $0.redactions.allSatisfy { $0.rule == rule } }, sourceLocation: sourceLocation)
        for message in messages {
            for span in message.redactions {
                #expect(span.token(in: message.raw).hasPrefix("REDACTED-"), sourceLocation: sourceLocation)
            }
        }
        let fromClient = messages.filter { $0.sender == .client }.reduce(0) { $0 + $1.originalLength }
        let fromServer = messages.filter { $0.sender == .server }.reduce(0) { $0 + $1.originalLength }
        #expect(Int64(fromClient) == summary.bytesFromClient, sourceLocation: sourceLocation)
        #expect(Int64(fromServer) == summary.bytesFromServer, sourceLocation: sourceLocation)
    }
    #expect(found == spans, sourceLocation: sourceLocation)
}

private func location<T: Sendable>(_ store: StoreLocation, _ body: (any RecordingStore) async throws -> T) async throws -> T {
    try await store.withStore(.read, body)
}

/// What an attacker holding only the store does with a SCRAM-SHA-256 recording (RFC 5802, as libpq
/// speaks it: an empty user name, a 24-character client nonce, no channel binding): rebuild the
/// AuthMessage from the server-first message, derive the server key from a guessed password and
/// the stored salt, and compare the server signature. nil when the store lacks what that needs.
enum ScramAttacker {
    static func passwordChecks(_ guess: String, server messages: [[UInt8]]) -> Bool? {
        guard let serverFirst = saslData(code: 11, in: messages), let serverFinal = saslData(code: 12, in: messages) else { return nil }
        let attributes = Dictionary(serverFirst.split(separator: ",").compactMap { item -> (String, String)? in
            guard let equals = item.firstIndex(of: "=") else { return nil }
            return (String(item[..<equals]), String(item[item.index(after: equals)...]))
        }, uniquingKeysWith: { first, _ in first })
        guard let nonce = attributes["r"], let saltText = attributes["s"], let salt = Data(base64Encoded: saltText),
              let iterations = attributes["i"].flatMap(Int.init), serverFinal.hasPrefix("v="),
              let signature = Data(base64Encoded: String(serverFinal.dropFirst(2))) else { return nil }
        let authMessage = "n=,r=\(nonce.prefix(24)),\(serverFirst),c=biws,r=\(nonce)"
        guard let salted = try? KDF.Insecure.PBKDF2.deriveKey(from: Data(guess.utf8), salt: salt, using: .sha256, outputByteCount: 32,
                                                              unsafeUncheckedRounds: iterations) else { return nil }
        let serverKey = Data(HMAC<SHA256>.authenticationCode(for: Data("Server Key".utf8), using: salted))
        let expected = Data(HMAC<SHA256>.authenticationCode(for: Data(authMessage.utf8), using: SymmetricKey(data: serverKey)))
        return expected == signature
    }

    /// The data of the first backend Authentication message with this SASL code among `messages`.
    private static func saslData(code: UInt8, in messages: [[UInt8]]) -> String? {
        for raw in messages where raw.count > 9 && raw[0] == UInt8(ascii: "R") && raw[5...8] == [0, 0, 0, code] {
            let length = raw[1...4].reduce(0) { $0 << 8 | Int($1) }
            return String(decoding: raw[9..<min(raw.count, 1 + length)], as: UTF8.self)
        }
        return nil
    }
}
