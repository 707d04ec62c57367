import CSQLite
import Foundation
import Logging

/// Copies the WAL back into the database file on its own thread and connection, so the
/// recorder's commits never wait for a checkpoint's fsync (with `synchronous=NORMAL` the
/// checkpoint is the only place SQLite syncs, and on the writer it dominated commit time).
///
/// The writer reports the WAL's size after each commit (`sqlite3_wal_hook`); past
/// `thresholdFrames` this thread runs a PASSIVE checkpoint, which runs beside the writer,
/// then a RESTART, which holds the writer off only for the frames added meanwhile and lets
/// the next commit start the WAL file from the beginning, so it stays bounded.
final class Checkpointer: @unchecked Sendable {
    private let connection: Database
    private let logger: Logger
    private let thresholdFrames: Int32
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var walFrames: Int32 = 0
    private var stopping = false
    private let stopped = DispatchSemaphore(value: 0)

    init(path: String, thresholdFrames: Int32 = 4_000, logger: Logger) throws {
        connection = try Database(path: path, mode: .readWrite, busyTimeoutMilliseconds: 2_000)
        self.thresholdFrames = thresholdFrames
        self.logger = logger
        let thread = Thread { [self] in
            // Named from inside: Foundation only names the running thread (and Linux keeps 15 characters).
            Thread.current.name = "wl-checkpoint"
            run()
        }
        thread.start()
    }

    /// Takes over checkpointing for `writer` (its automatic checkpoints stop).
    func attach(to writer: Database) {
        sqlite3_wal_hook(writer.handle, { context, _, _, frames in
            Unmanaged<Checkpointer>.fromOpaque(context!).takeUnretainedValue().walGrew(to: frames)
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    func detach(from writer: Database) {
        sqlite3_wal_hook(writer.handle, nil, nil)
    }

    private func walGrew(to frames: Int32) {
        guard frames >= thresholdFrames else { return }
        condition.lock()
        walFrames = frames
        condition.signal()
        condition.unlock()
    }

    /// Stops the thread after any checkpoint in progress.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
        stopped.wait()
    }

    private func run() {
        while true {
            condition.lock()
            while walFrames < thresholdFrames && !stopping { condition.wait() }
            if stopping {
                condition.unlock()
                break
            }
            walFrames = 0
            condition.unlock()
            do {
                try connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
                try connection.execute("PRAGMA wal_checkpoint(RESTART)")
            } catch let error as SQLiteError where error.isBusy {
                // The writer or a reader held on; the next report tries again.
            } catch {
                logger.warning("WAL checkpoint failed: \(error)")
            }
        }
        stopped.signal()
    }
}
