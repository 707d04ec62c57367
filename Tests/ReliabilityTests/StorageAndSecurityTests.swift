import Backends
import Foundation
import Server
import Recording
import SQLiteBackend
import Testing
import TestSupport

/// `chattr +i` makes a file immutable even for root, who ignores permission bits.
private let canMakeImmutable: Bool = {
    let dir = TemporaryDirectory()
    let probe = dir.file("probe")
    guard FileManager.default.createFile(atPath: probe, contents: Data()) else { return false }
    defer { _ = runQuietly(["chattr", "-i", probe]) }
    return runQuietly(["chattr", "+i", probe]) == 0
}()

@discardableResult
private func runQuietly(_ arguments: [String]) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return -1 }
    process.waitUntilExit()
    return process.terminationStatus
}

/// Promises 5 and 6 of docs/RELIABILITY.md.
@Suite struct StorageAndSecurityTests {
    @Test(.enabled(if: canMakeImmutable, "needs chattr +i (e2fsprogs) on this file system"))
    func aReadOnlyDatabaseFileIsRefusedClearlyAndStillReadable() async throws {
        let dir = TemporaryDirectory()
        let path = dir.file("readonly.sqlite")
        _ = try SQLiteFile.openForWriting(path: path)
        runQuietly(["chattr", "+i", path])
        defer { runQuietly(["chattr", "-i", path]) }
        let result = try WirelogProcess.run(["serve", "--listen", "127.0.0.1:0", "--db", path])
        #expect(result.status == 2)
        #expect(result.stderrText.contains("cannot write to \(path)"), "\(result.stderrText)")
        #expect(result.stderrText.split(separator: "\n").count == 1)
        // Reading needs no write access.
        #expect(try await RecordedRows.sessions(path).isEmpty)
    }

    @Test func aDamagedDatabaseIsRefusedAtOpenAndLeftUntouched() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("damaged.sqlite")
        let populate = try WirelogProcess.run(["bench", "populate", "--db", path, "--sessions", "200"])
        #expect(populate.failure == nil)
        // 12 KiB of 0xff in the middle of the file, as a bad sector or a stray write would leave it.
        let file = try #require(FileHandle(forWritingAtPath: path))
        try file.seek(toOffset: 8192)
        try file.write(contentsOf: Data(repeating: 0xFF, count: 12_288))
        try file.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        let result = try WirelogProcess.run(["serve", "--listen", "127.0.0.1:0", "--db", path])
        #expect(result.status == 2)
        #expect(result.stderrText.contains("\(path) is damaged"), "\(result.stderrText)")
        #expect(result.stderrText.split(separator: "\n").count == 1, "\(result.stderrText)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test func aReadOnlyDirectoryIsRefusedClearly() throws {
        let dir = TemporaryDirectory()
        let inner = dir.file("ro")
        try FileManager.default.createDirectory(atPath: inner, withIntermediateDirectories: false)
        // A read-only bind mount in a private mount namespace: root cannot write there either.
        let script = "mount --bind \"$1\" \"$1\" && mount -o remount,ro,bind \"$1\" && exec \"$2\" serve --listen 127.0.0.1:0 --db \"$1/new.sqlite\""
        let probe = runQuietly(["unshare", "-m", "sh", "-c", "mount --bind /tmp /tmp"])
        try #require(probe == 0, "needs unshare -m (mount namespaces) to make a read-only directory")
        let serve = try WirelogProcess(["unshare", "-m", "sh", "-c", script, "sh", inner, WirelogBinary.path], executable: "/usr/bin/env")
        let result = try serve.wait(timeout: 30)
        #expect(result.status == 2)
        #expect(result.stderrText.contains("new.sqlite"), "\(result.stderrText)")
        #expect(result.stderrText.contains("read-only") || result.stderrText.contains("cannot"), "\(result.stderrText)")
    }

    /// Read commands need only read access: a store this user may read but not write (SQLite: the
    /// file and its directory; PostgreSQL: a role with SELECT only) is listed; one they may not
    /// read is one line saying "permission denied" and what to check.
    @Test(arguments: TestBackend.allCases)
    func aStoreThatMayOnlyBeReadIsReadAndAnUnreadableOneSaysPermissionDenied(_ backend: TestBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try backend.freshStore(in: dir)
        #expect(try WirelogProcess.run(["bench", "populate", "--db", store.argument, "--sessions", "3"]).failure == nil)
        let readable: ProcessResult, unreadable: ProcessResult
        switch store {
        case .sqlite(let path):
            // No -wal or -shm left (no writer at work), none can be made: SQLite needs them for WAL.
            #expect(!FileManager.default.fileExists(atPath: path + "-shm"))
            chmod(path, 0o444)
            chmod(dir.path, 0o555)
            readable = try WirelogProcess.runWithoutFileAccessPrivileges(["sessions", "list", "--db", path])
            chmod(path, 0)
            unreadable = try WirelogProcess.runWithoutFileAccessPrivileges(["sessions", "list", "--db", path])
        case .postgres(let url):
            let password = "reader-password"
            let (reader, stranger) = (try TestPostgres.freshRole(password: password), try TestPostgres.freshRole(password: password))
            try TestPostgres.psql(store.argument, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO \(reader)")
            func roleURL(_ role: String) -> String { "postgres://\(role):\(password)@\(url.host):\(url.port)/\(url.database)" }
            readable = try WirelogProcess.run(["sessions", "list", "--db", roleURL(reader)])
            unreadable = try WirelogProcess.run(["sessions", "list", "--db", roleURL(stranger)])
            #expect(!unreadable.stderrText.contains(password))
        }
        #expect(readable.failure == nil)
        #expect(readable.stdoutText.split(separator: "\n").count == 4, "\(readable.stdoutText)")
        #expect(unreadable.status == 2)
        #expect(unreadable.stderrText.contains("permission denied") && unreadable.stderrText.contains("check"), "\(unreadable.stderrText)")
        #expect(unreadable.stderrText.split(separator: "\n").count == 1, "\(unreadable.stderrText)")
    }

    @Test func limitsAreOnAndBindingIsLoopbackByDefault() throws {
        let defaults = ServerConfiguration()
        #expect(defaults.host == "127.0.0.1")
        #expect(defaults.maxLineLength == 64 * 1024)
        #expect(defaults.idleTimeout == .seconds(300))
        #expect(defaults.maxConnections == 4096)
        let help = try WirelogProcess.run(["serve", "--help"]).stdoutText
        #expect(help.contains("default: 127.0.0.1:7070"))
    }
}
