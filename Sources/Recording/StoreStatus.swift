/// What `wirelog status` shows of a store: what it is, what it takes on disk, what it holds and
/// who is recording into it now.
public struct StoreStatus: Sendable, Equatable, Codable {
    /// One part of the store on disk: the SQLite file, its WAL, its segment files; PostgreSQL's database.
    public struct Part: Sendable, Equatable, Codable {
        public var name: String
        public var bytes: Int64

        public init(name: String, bytes: Int64) {
            self.name = name
            self.bytes = bytes
        }
    }

    /// A recorder with sessions open (recording now, or died and not yet followed by one of its name).
    public struct Recorder: Sendable, Equatable, Codable {
        public var name: String
        public var openSessions: Int64

        public init(name: String, openSessions: Int64) {
            self.name = name
            self.openSessions = openSessions
        }
    }

    /// `sqlite` or `postgres`.
    public var kind: String
    public var schemaVersion: Int
    public var parts: [Part]
    public var sessions: Int64
    public var openSessions: Int64
    public var oldestStartedMicros: Int64?
    public var newestStartedMicros: Int64?
    public var recorders: [Recorder]

    public var bytesOnDisk: Int64 { parts.reduce(0) { $0 + $1.bytes } }

    public init(kind: String, schemaVersion: Int, parts: [Part], sessions: Int64, openSessions: Int64,
                oldestStartedMicros: Int64?, newestStartedMicros: Int64?, recorders: [Recorder]) {
        self.kind = kind
        self.schemaVersion = schemaVersion
        self.parts = parts
        self.sessions = sessions
        self.openSessions = openSessions
        self.oldestStartedMicros = oldestStartedMicros
        self.newestStartedMicros = newestStartedMicros
        self.recorders = recorders
    }
}
