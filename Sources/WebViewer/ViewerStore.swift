import Recording

/// The viewer's store, opened on first use and opened again after a failure: a store that
/// disappears, is replaced or is locked costs the requests made meanwhile an error, never the server.
public actor ViewerStore {
    private let open: @Sendable () async throws -> any RecordingStore
    private var store: (any RecordingStore)?

    /// `open` opens the store read-only (`StoreLocation.openStore(.read)`): the viewer never writes.
    public init(open: @escaping @Sendable () async throws -> any RecordingStore) {
        self.open = open
    }

    /// The open store, opening it if needed.
    func current() async throws -> any RecordingStore {
        if let store { return store }
        let opened = try await open()
        store = opened
        return opened
    }

    /// Drops the store after a failure that was about the store, not the request, so the next
    /// request opens it anew.
    func discard() async {
        let failed = store
        store = nil
        await failed?.close()
    }

    /// Runs `body` with the store; a store failure discards it before the error goes on.
    func read<T: Sendable>(_ body: @Sendable (any RecordingStore) async throws -> T) async throws -> T {
        let store = try await current()
        do {
            return try await body(store)
        } catch let error as RecordingError {
            throw error
        } catch {
            await discard()
            throw error
        }
    }

    public func close() async {
        await discard()
    }
}
