import CSQLite
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Sessions a recorder left open when it died (kill -9, power loss): the next recorder of the same
/// name closes them as `interrupted`, at the time of their last message and with counters that
/// match their messages, as on PostgreSQL.
///
/// A live recorder holds a lock on its name that the kernel drops when its process dies: an
/// open-file-description lock on one byte of `<database>-recorders`, at an offset from the name's
/// hash. (Such locks belong to the open file, not the process, so two recorders of one name in one
/// process exclude each other too, and SQLite's own POSIX locks on the database never meet them.)
public final class RecorderNameLock: @unchecked Sendable {
    private let descriptor: Int32

    private init(descriptor: Int32) { self.descriptor = descriptor }

    /// The lock on `recorder` for `databasePath`, or nil while another live recorder holds it.
    public static func acquire(databasePath: String, recorder: String) throws -> RecorderNameLock? {
        let lockPath = databasePath + "-recorders"
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw SQLiteStoreError.cannotOpen(path: lockPath, reason: String(cString: strerror(errno)))
        }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = off_t(nameOffset(recorder))
        lock.l_len = 1
        guard fcntl(descriptor, openFileDescriptionSetLock, &lock) == 0 else {
            let failure = errno
            close(descriptor)
            if failure == EAGAIN || failure == EACCES { return nil }
            throw SQLiteStoreError.cannotOpen(path: lockPath, reason: String(cString: strerror(failure)))
        }
        return RecorderNameLock(descriptor: descriptor)
    }

    deinit { close(descriptor) }

    /// F_OFD_SETLK (Linux 3.15+), which Glibc's Swift overlay does not export.
    private static let openFileDescriptionSetLock: Int32 = 37

    /// FNV-1a of the name, within 2^40: distinct names rarely share a byte, and when they do the
    /// only cost is that one of them does not recover the other's sessions while both run.
    private static func nameOffset(_ name: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash & ((1 << 40) - 1)
    }
}

enum SQLiteRecovery {
    /// Closes `recorder`'s open sessions (the caller holds the name's lock); returns how many.
    static func closeInterrupted(_ database: Database, recorder: String) throws -> Int {
        try database.transaction {
            try database.run("""
                UPDATE sessions
                SET ended_us = coalesce((SELECT max(m.at_us) FROM \(MessageLookup.messages(ofSession: "sessions.id"))),
                                        started_us),
                    end_reason = 'interrupted',
                    bytes_from_client = \(MessageLookup.bytesCounted(of: "sessions.id", from: .client)),
                    bytes_from_server = \(MessageLookup.bytesCounted(of: "sessions.id", from: .server)),
                    message_count = \(MessageLookup.messagesCounted(of: "sessions.id"))
                WHERE recorder = ?1 AND ended_us IS NULL
                """, .text(recorder))
            return database.changes
        }
    }
}
