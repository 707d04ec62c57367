import Foundation

/// Payloads a server acknowledged, collected from many load tasks at once: after a crash,
/// every one of them must be in the database.
public final class AcknowledgedPayloads: @unchecked Sendable {
    private let lock = NSLock()
    private var payloads = Set<String>()

    public init() {}

    /// Adds `payload`; returns how many there are now.
    @discardableResult
    public func add(_ payload: String) -> Int {
        lock.lock()
        defer { lock.unlock() }
        payloads.insert(payload)
        return payloads.count
    }

    public var all: Set<String> {
        lock.lock()
        defer { lock.unlock() }
        return payloads
    }
}
