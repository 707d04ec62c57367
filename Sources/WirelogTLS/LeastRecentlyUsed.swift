/// At most `capacity` values by key; a new key past that pushes out the one used least recently.
/// Clients choose the names certificates are minted for, so what is kept per name is bounded.
struct LeastRecentlyUsed<Key: Hashable, Value> {
    let capacity: Int
    private var entries: [Key: (value: Value, used: UInt64)] = [:]
    private var clock: UInt64 = 0

    init(capacity: Int) {
        self.capacity = capacity
    }

    var count: Int { entries.count }

    /// The value for `key`, which is now the most recently used; nil when there is none.
    mutating func value(for key: Key) -> Value? {
        guard let entry = entries[key] else { return nil }
        clock += 1
        entries[key] = (entry.value, clock)
        return entry.value
    }

    /// Keeps `value` for `key` as the most recently used, making room first when full. Finding
    /// the oldest is a scan: a few hundred entries, next to the cost of what is made for a new key.
    mutating func set(_ value: Value, for key: Key) {
        if entries[key] == nil, entries.count >= capacity,
           let oldest = entries.min(by: { $0.value.used < $1.value.used })?.key {
            entries[oldest] = nil
        }
        clock += 1
        entries[key] = (value, clock)
    }
}

extension LeastRecentlyUsed: Sendable where Key: Sendable, Value: Sendable {}
