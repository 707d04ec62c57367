import Recording
import NIOConcurrencyHelpers
import NIOCore

/// The toxics of one proxy, changed at any time (the API, `--fault`, `--faults`) and pushed to
/// every live connection of the proxy on its own event loop, as toxiproxy's changes reach its
/// links. A connection subscribes when it opens; a proxy that never has a toxic costs each
/// connection one subscription and nothing per byte (no handler joins its pipelines).
public final class FaultSet: Sendable {
    private struct State {
        var toxics: [Toxic] = []
        var subscribers: [Int: @Sendable ([Toxic]) -> Void] = [:]
        var nextKey = 0
    }

    private let state = NIOLockedValueBox(State())

    public init(_ toxics: [Toxic] = []) {
        state.withLockedValue { $0.toxics = toxics }
    }

    /// In the order they were added (which is the order bytes pass them).
    public var toxics: [Toxic] { state.withLockedValue { $0.toxics } }

    public func toxic(named name: String) -> Toxic? { toxics.first { $0.name == name } }

    /// Adds `toxic`; a name already used is toxiproxy's 409.
    public func add(_ toxic: Toxic) throws(FaultError) {
        try change { toxics throws(FaultError) in
            guard !toxics.contains(where: { $0.name == toxic.name }) else { throw .toxicAlreadyExists }
            toxics.append(toxic)
        }
    }

    /// Replaces the toxic of that name with what `update` makes of it.
    @discardableResult
    public func update(named name: String, _ update: (Toxic) throws(FaultError) -> Toxic) throws(FaultError) -> Toxic {
        var updated: Toxic?
        try change { toxics throws(FaultError) in
            guard let index = toxics.firstIndex(where: { $0.name == name }) else { throw .toxicNotFound }
            toxics[index] = try update(toxics[index])
            updated = toxics[index]
        }
        return updated!
    }

    public func remove(named name: String) throws(FaultError) {
        try change { toxics throws(FaultError) in
            guard let index = toxics.firstIndex(where: { $0.name == name }) else { throw .toxicNotFound }
            toxics.remove(at: index)
        }
    }

    /// Removes every toxic (`POST /reset`).
    public func removeAll() {
        try? change { $0.removeAll() }
    }

    /// Calls `deliver` with the toxics now and after every change, until `unsubscribe(key)`.
    func subscribe(_ deliver: @escaping @Sendable ([Toxic]) -> Void) -> (key: Int, toxics: [Toxic]) {
        state.withLockedValue { state in
            state.nextKey += 1
            state.subscribers[state.nextKey] = deliver
            return (state.nextKey, state.toxics)
        }
    }

    func unsubscribe(_ key: Int) {
        _ = state.withLockedValue { $0.subscribers.removeValue(forKey: key) }
    }

    private func change(_ body: (inout [Toxic]) throws(FaultError) -> Void) throws(FaultError) {
        let changed = state.withLockedValue { state -> Result<([Toxic], [@Sendable ([Toxic]) -> Void]), FaultError> in
            do throws(FaultError) {
                try body(&state.toxics)
                return .success((state.toxics, Array(state.subscribers.values)))
            } catch {
                return .failure(error)
            }
        }
        let (toxics, subscribers) = try changed.get()
        for deliver in subscribers { deliver(toxics) }
    }
}

/// What toxiproxy answers to a request it cannot do: a status and a one-line message (its
/// `ApiError`, `{"error": …, "status": …}`).
public struct FaultError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public let status: Int

    public init(_ message: String, status: Int) {
        self.message = message
        self.status = status
    }

    public var description: String { message }

    public var json: String { "{\"error\":\(JSONText.quoted(message)),\"status\":\(status)}" }

    // toxiproxy's own errors, word for word.
    public static let toxicAlreadyExists = FaultError("toxic already exists", status: 409)
    public static let toxicNotFound = FaultError("toxic not found", status: 404)
    public static let proxyNotFound = FaultError("proxy not found", status: 404)
    public static let proxyAlreadyExists = FaultError("proxy already exists", status: 409)
    public static let invalidStream = FaultError("stream was invalid, can be either upstream or downstream", status: 400)
    public static let invalidToxicType = FaultError("invalid toxic type", status: 400)

    public static func badRequestBody(_ detail: String) -> FaultError { FaultError("bad request body: \(detail)", status: 400) }
    public static func missingField(_ detail: String) -> FaultError { FaultError("missing required field: \(detail)", status: 400) }
}
