import CSQLite
import Recording
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes of large messages, kept in segment files beside the database (migration 0008) rather
/// than in it: a BLOB in SQLite is written twice (the WAL, then the database at the checkpoint)
/// through a chain of overflow pages, and a bulk stream recorded that way ran at a sixth of the
/// rate of appending the same bytes to a file. A message stored so has an empty `raw` and a row in
/// `message_segments`; every query reads its bytes through `bytesSQL`, so above the backend
/// nothing knows where they were.
enum SegmentFiles {
    /// Messages of at least this many bytes go to a segment (two pages' worth: below it a BLOB
    /// costs SQLite at most one overflow page).
    static let threshold = 8 << 10

    /// A segment is sealed, and the next one started, once it holds this much.
    static let sealedSize: Int64 = 256 << 20

    static func directory(ofDatabase path: String) -> String { path + "-segments" }

    static func path(ofSegment id: Int64, database: String) -> String { "\(directory(ofDatabase: database))/\(id)" }

    /// The bytes of message `m`, wherever they are.
    static let bytesSQL = """
        CASE WHEN length(m.raw) > 0 THEN m.raw
             ELSE (SELECT wirelog_segment_bytes(x.segment, x.segment_offset, x.byte_count)
                   FROM message_segments x WHERE x.message_id = m.id) END
        """

    /// How many bytes message `m` holds, wherever they are (without reading them).
    static let lengthSQL = """
        CASE WHEN length(m.raw) > 0 THEN length(m.raw)
             ELSE coalesce((SELECT x.byte_count FROM message_segments x WHERE x.message_id = m.id), 0) END
        """

    /// Gives connection `handle` of the database at `path` the SQL function `bytesSQL` calls.
    static func registerReader(on handle: OpaquePointer, databasePath path: String) {
        let reader = Unmanaged.passRetained(SegmentReader(databasePath: path)).toOpaque()
        sqlite3_create_function_v2(
            handle, "wirelog_segment_bytes", 3, SQLITE_UTF8, reader,
            { context, _, arguments in
                guard let context, let arguments else { return }
                let reader = Unmanaged<SegmentReader>.fromOpaque(sqlite3_user_data(context)).takeUnretainedValue()
                reader.answer(context, segment: sqlite3_value_int64(arguments[0]),
                              offset: sqlite3_value_int64(arguments[1]), count: sqlite3_value_int64(arguments[2]))
            },
            nil, nil,
            { reader in reader.map { Unmanaged<SegmentReader>.fromOpaque($0).release() } })
    }
}

/// A read failed on a segment file, or writing one did.
struct SegmentFileError: StoreFailure {
    let path: String
    let action: String
    let reason: String

    init(_ action: String, _ path: String, errno code: Int32 = errno) {
        self.path = path
        self.action = action
        reason = String(cString: strerror(code))
    }

    var description: String { "cannot \(action) \(path): \(reason)" }
}

/// Reads message bytes out of segment files for one connection (used from inside its SQL calls,
/// so by one thread at a time); keeps each file it opened open until the connection closes.
private final class SegmentReader {
    private let databasePath: String
    private var files: [Int64: Int32] = [:]

    init(databasePath: String) { self.databasePath = databasePath }

    deinit {
        for fd in files.values { close(fd) }
    }

    private static let keepTogether = "a wirelog database must be kept with its -segments directory"

    func answer(_ context: OpaquePointer, segment: Int64, offset: Int64, count: Int64) {
        let path = SegmentFiles.path(ofSegment: segment, database: databasePath)
        guard count > 0 else { return sqlite3_result_zeroblob(context, 0) }
        guard let fd = file(segment, path: path) else {
            return sqlite3_result_error(context, "the bytes of a large message are missing: cannot open \(path) (\(String(cString: strerror(errno)))); \(Self.keepTogether)", -1)
        }
        guard let buffer = sqlite3_malloc64(sqlite3_uint64(count)) else { return sqlite3_result_error_nomem(context) }
        var done: Int64 = 0
        while done < count {
            let read = pread(fd, buffer + Int(done), Int(count - done), off_t(offset + done))
            if read < 0 && errno == EINTR { continue }
            guard read > 0 else { break }
            done += Int64(read)
        }
        guard done == count else {
            sqlite3_free(buffer)
            return sqlite3_result_error(context, "the bytes of a large message are missing: \(path) ends before byte \(offset + count); \(Self.keepTogether)", -1)
        }
        sqlite3_result_blob64(context, buffer, sqlite3_uint64(count), sqlite3_free)
    }

    private func file(_ segment: Int64, path: String) -> Int32? {
        if let fd = files[segment] { return fd }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        files[segment] = fd
        return fd
    }
}

/// Appends the bytes of a recorder's large messages to its own segment file (the recorder's
/// thread only). A batch's bytes are appended before its commit; a batch that rolls back takes
/// them back, and with `synchronous=FULL` they are synced before the commit that points at them.
final class SegmentWriter {
    private let database: Database
    /// `synchronous=FULL` (`--durability full`), read when first needed.
    private var syncsBeforeCommit: Bool?
    private var current: (id: Int64, fd: Int32, size: Int64)?
    private var sizeAtBatchStart: Int64 = 0
    /// Where in the current segment the last writeback was started.
    private var writebackStart: Int64 = 0
    /// Bytes appended between writebacks. Left to itself the kernel lets a bulk recording pile up
    /// dirty pages and then writes them all at once, stalling the recorder (bulk runs varied 4×
    /// between sittings); started every few MiB, as RocksDB's `bytes_per_sync` does, writeback
    /// keeps pace and the recording stays steady.
    private static let bytesPerWriteback: Int64 = 8 << 20

    init(database: Database) {
        self.database = database
    }

    deinit {
        if let current { close(current.fd) }
    }

    /// Called before a batch's transaction begins. A batch holding large messages gets a segment
    /// to append to, made in a transaction of its own so that an id is never handed out twice
    /// (a batch may roll back; the file stays this recorder's).
    func beginBatch(holdingLargeMessages: Bool) throws {
        if holdingLargeMessages, current.map({ $0.size >= SegmentFiles.sealedSize }) ?? true {
            try seal()
            try startSegment()
        }
        sizeAtBatchStart = current?.size ?? 0
    }

    /// Appends `bytes`; returns where they went, or nil when the batch was begun without a
    /// segment (the bytes then stay in the row).
    func append(_ bytes: UnsafeRawBufferPointer) throws -> (segment: Int64, offset: Int64)? {
        guard var segment = current else { return nil }
        let offset = segment.size
        var written = 0
        while written < bytes.count {
            let count = pwrite(segment.fd, bytes.baseAddress! + written, bytes.count - written, off_t(offset + Int64(written)))
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw SegmentFileError("write", path(segment.id)) }
            written += count
        }
        segment.size += Int64(bytes.count)
        current = segment
        if segment.size - writebackStart >= Self.bytesPerWriteback { startWriteback(segment) }
        return (segment.id, offset)
    }

    /// Starts writing back what was appended since the last call, and drops the range before it,
    /// written back by now, from the page cache: `POSIX_FADV_DONTNEED` starts writeback of dirty
    /// pages without waiting for it and evicts clean ones (Linux). Recorded bytes are rarely read
    /// soon after; the cache is better left to the database's pages.
    private func startWriteback(_ segment: (id: Int64, fd: Int32, size: Int64)) {
        #if os(Linux)
        let from = max(0, writebackStart - Self.bytesPerWriteback)
        _ = posix_fadvise(segment.fd, off_t(from), off_t(segment.size - from), POSIX_FADV_DONTNEED)
        #endif
        writebackStart = segment.size
    }

    /// Called just before the batch's COMMIT.
    func beforeCommit() throws {
        guard let current, current.size > sizeAtBatchStart else { return }
        if syncsBeforeCommit == nil { syncsBeforeCommit = try database.scalarInt("PRAGMA synchronous") ?? 0 >= 2 }
        guard syncsBeforeCommit == true else { return }
        guard fdatasync(current.fd) == 0 else { throw SegmentFileError("sync", path(current.id)) }
    }

    /// The batch rolled back: its bytes leave the file too.
    func rollBack() {
        guard var segment = current, segment.size > sizeAtBatchStart else { return }
        _ = ftruncate(segment.fd, off_t(sizeAtBatchStart))
        segment.size = sizeAtBatchStart
        current = segment
        writebackStart = min(writebackStart, segment.size)
    }

    /// Closes the current segment for good: nothing more is appended, and `SegmentEraser` may
    /// remove it once no message is left in it.
    func seal() throws {
        guard let segment = current else { return }
        current = nil
        _ = fsync(segment.fd)
        close(segment.fd)
        try database.run("UPDATE segments SET sealed = 1 WHERE id = ?", .integer(segment.id))
        // A delete or prune while it was written may have emptied it: it goes now, as it would have then.
        try SegmentEraser.removeEmptySegments(database)
    }

    private func startSegment() throws {
        let id = try database.transaction {
            try database.run("INSERT INTO segments (created_us) VALUES (?)", .integer(WallClock.nowMicros()))
            return database.lastInsertRowID
        }
        let directory = SegmentFiles.directory(ofDatabase: database.path)
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw SegmentFileError("create the directory", directory)
        }
        // Recordings hold user data: private, as the database file is.
        let fd = open(path(id), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SegmentFileError("create", path(id)) }
        current = (id, fd, 0)
        writebackStart = 0
    }

    private func path(_ id: Int64) -> String { SegmentFiles.path(ofSegment: id, database: database.path) }
}

/// Takes the segment bytes of deleted messages off the disk: inside the deleting transaction it
/// notes where they are (and drops their rows); after the commit it overwrites them with zeros,
/// as `secure_delete` does inside the database, and removes sealed segments left empty.
struct SegmentEraser {
    private let database: Database
    private var ranges: [(segment: Int64, offset: Int64, count: Int64)] = []

    init(database: Database) { self.database = database }

    /// Before the messages `condition` picks (SQL over `messages m`) are deleted, in the same transaction.
    mutating func forgetMessages(where condition: String, _ values: [SQLValue]) throws {
        let chosen = "SELECT x.message_id FROM message_segments x JOIN messages m ON m.id = x.message_id WHERE \(condition)"
        let statement = try database.prepare("""
            SELECT x.segment, x.segment_offset, x.byte_count FROM message_segments x WHERE x.message_id IN (\(chosen))
            """)
        try statement.bind(values)
        while try statement.step() {
            ranges.append((statement.int64(0), statement.int64(1), statement.int64(2)))
        }
        guard !ranges.isEmpty else { return }
        let delete = try database.prepare("DELETE FROM message_segments WHERE message_id IN (\(chosen))")
        try delete.bind(values)
        try delete.run()
    }

    /// After the commit.
    func erase() throws {
        guard !ranges.isEmpty else { return }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        for (segment, inSegment) in Dictionary(grouping: ranges, by: \.segment) {
            let path = SegmentFiles.path(ofSegment: segment, database: database.path)
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else {
                if errno == ENOENT { continue }  // nothing left to erase
                throw SegmentFileError("open", path)
            }
            defer { close(fd) }
            for range in inSegment {
                var done: Int64 = 0
                while done < range.count {
                    let count = zeros.withUnsafeBytes {
                        pwrite(fd, $0.baseAddress!, Int(min(range.count - done, Int64($0.count))), off_t(range.offset + done))
                    }
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { throw SegmentFileError("erase deleted bytes in", path) }
                    done += Int64(count)
                }
            }
            guard fdatasync(fd) == 0 else { throw SegmentFileError("sync", path) }
        }
        try Self.removeEmptySegments(database)
    }

    /// Removes the sealed segments no message uses (an unsealed one is still being written).
    static func removeEmptySegments(_ database: Database) throws {
        let empty = try database.prepare("""
            SELECT s.id FROM segments s WHERE s.sealed AND NOT EXISTS (SELECT 1 FROM message_segments x WHERE x.segment = s.id)
            """)
        var ids: [Int64] = []
        while try empty.step() { ids.append(empty.int64(0)) }
        for id in ids {
            let path = SegmentFiles.path(ofSegment: id, database: database.path)
            guard unlink(path) == 0 || errno == ENOENT else { throw SegmentFileError("remove", path) }
            try database.run("DELETE FROM segments WHERE id = ?", .integer(id))
        }
    }
}
