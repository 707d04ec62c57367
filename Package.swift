// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "wirelog",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "wirelog", targets: ["wirelog"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // SQLite from the system (libsqlite3-dev), wrapped by SQLiteBackend.
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // The schema: the .sql files in migrations/ become Swift source at build time.
        .executableTarget(name: "MigrationEmbedder"),
        .plugin(
            name: "EmbedMigrations",
            capability: .buildTool(),
            dependencies: ["MigrationEmbedder"],
            path: "Sources/EmbedMigrations"
        ),
        // The commit being built, for `wirelog --version`.
        .plugin(name: "EmbedCommit", capability: .buildTool(), path: "Sources/EmbedCommit"),
        .target(
            name: "Migrations",
            path: "migrations",
            plugins: ["EmbedMigrations"]
        ),
        // Every metric wirelog exports, named and explained once (docs/OPERATIONS.md lists them):
        // the modules that count import it; only `Operations` knows they become Prometheus text.
        .target(name: "Telemetry", dependencies: [.product(name: "Metrics", package: "swift-metrics")]),
        // The storage seam: record and read types, filters, the sink and store protocols, the
        // per-session tape. No backend, no I/O: everything that records or reads goes through it.
        .target(name: "Recording", dependencies: ["Telemetry", .product(name: "Metrics", package: "swift-metrics"), .product(name: "Crypto", package: "swift-crypto")]),
        // The embedded backend: a SQLite file, through our own thin wrapper. The only SQLite SQL.
        .target(
            name: "SQLiteBackend",
            dependencies: [
                "CSQLite",
                "Migrations",
                "Recording",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The shared backend: PostgreSQL through postgres-nio. The only PostgreSQL SQL.
        .target(
            name: "PostgresBackend",
            dependencies: [
                "Telemetry",
                .product(name: "Metrics", package: "swift-metrics"),
                "Migrations",
                "Recording",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The CLI's (and the tests') one place that picks a backend from `--db`.
        .target(
            name: "Backends",
            dependencies: [
                "Recording",
                "SQLiteBackend",
                "PostgresBackend",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Pure protocol code: no NIO, no I/O.
        .target(name: "LabProtocol"),
        // Every protocol wirelog decodes (lab, lines, raw, http, resp, postgres): one decoder type
        // per protocol behind one `WireDecoder` protocol, the stream driver and auto-detection.
        // Bytes in, messages and fields out: no channels, no I/O.
        .target(
            name: "Protocols",
            dependencies: [
                "Recording",
                "LabProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // How wirelog words things for people: durations, counts, network failures.
        .target(
            name: "Presentation",
            dependencies: [
                "Recording",
                "LabProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Sessions in the forms wirelog writes them (JSON, NDJSON, pcap, raw bytes per direction):
        // `sessions export` and the web viewer's downloads share this one implementation.
        .target(name: "SessionFormats", dependencies: ["Recording", "LabProtocol", "Presentation", "Protocols"]),
        // Recording on SwiftNIO: the duplex handler of recorded conversations (the tape, commit →
        // act, bounded reads, quiet and idle timers) and the delivery of commits to event loops.
        .target(
            name: "NIORecording",
            dependencies: [
                "Recording",
                "Listening",
                "WirelogTLS",
                "Presentation",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // TLS for every side: certificates from PEM files or minted by a local CA, the ClientHello
        // and ServerHello facts, handshakes with a timeout, NSS key logs.
        .target(
            name: "WirelogTLS",
            dependencies: [
                .product(name: "Metrics", package: "swift-metrics"),
                "Recording",
                "Telemetry",
                "LabProtocol",
                "Presentation",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // The listening-server core of serve and proxy: bootstrap, connection limit, TLS, graceful shutdown.
        .target(
            name: "Listening",
            dependencies: [
                .product(name: "Metrics", package: "swift-metrics"),
                "WirelogTLS",
                "Telemetry",
                "Presentation",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Server",
            dependencies: [
                "Listening",
                "WirelogTLS",
                "Recording",
                "NIORecording",
                "LabProtocol",
                "Presentation",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Client",
            dependencies: [
                "WirelogTLS",
                "LabProtocol",
                "Presentation",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Faults on demand: toxiproxy's toxics (model, JSON, the per-connection handlers) and the
        // per-proxy set the API and the command line change live.
        .target(
            name: "Faults",
            dependencies: [
                "Protocols",
                "Recording",
                "Telemetry",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // Transparent recording TCP proxy.
        .target(
            name: "Proxy",
            dependencies: [
                "Faults",
                "Protocols",
                "Listening",
                "WirelogTLS",
                "Recording",
                "NIORecording",
                "LabProtocol",
                "Presentation",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // toxiproxy's HTTP API (`proxy --api`) over the proxies it creates, behind the viewer's guard.
        .target(
            name: "FaultAPI",
            dependencies: [
                "Faults",
                "Proxy",
                "Recording",
                "Presentation",
                "WebViewer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Replays recorded sessions against a server and compares.
        .target(
            name: "Replay",
            dependencies: [
                "Protocols",
                "WirelogTLS",
                "Recording",
                "NIORecording",
                "LabProtocol",
                "Presentation",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Stands in for a server from its recordings (`wirelog mock`): replay's comparison and
        // selection, the proxy's line and lab framing, the listening core.
        .target(
            name: "Mock",
            dependencies: [
                .product(name: "Metrics", package: "swift-metrics"),
                "Protocols",
                "Telemetry",
                "Listening",
                "Recording",
                "NIORecording",
                "LabProtocol",
                "Presentation",
                "Replay",
                "Proxy",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Load generator and synthetic data.
        .target(
            name: "Bench",
            dependencies: [
                "WirelogTLS",
                "Recording",
                "LabProtocol",
                "Presentation",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // The read-only browser viewer (`wirelog web`, `serve/proxy --web`): reads only through
        // RecordingStore, so it shows a SQLite file and a PostgreSQL store alike.
        .target(
            name: "WebViewer",
            dependencies: [
                "Protocols",
                "Recording",
                "LabProtocol",
                "Presentation",
                "Replay",
                "SessionFormats",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Running wirelog as a service: /metrics (Prometheus text), /healthz and /readyz, process
        // figures from /proc, JSON log lines.
        .target(
            name: "Operations",
            dependencies: [
                "Recording",
                "Telemetry",
                "WebViewer",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "WirelogCLI",
            dependencies: [
                "Protocols",
                "Recording",
                "Backends",
                "LabProtocol",
                "Presentation",
                "Server",
                "Client",
                "Proxy",
                "Replay",
                "Mock",
                "Bench",
                "SessionFormats",
                "WebViewer",
                "Operations",
                "Faults",
                "FaultAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            plugins: ["EmbedCommit"]
        ),
        .executableTarget(
            name: "wirelog",
            dependencies: ["WirelogCLI"]
        ),
        // Shared by the test targets: temporary databases, the built binary, servers in-process.
        .target(
            name: "TestSupport",
            dependencies: [
                "Recording",
                "SQLiteBackend",
                "PostgresBackend",
                "Backends",
                "Server",
                "Client",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "LabProtocolTests", dependencies: ["LabProtocol"]),
        .testTarget(
            name: "FaultsTests",
            dependencies: [
                "Faults", "FaultAPI", "Protocols", "Recording", "SQLiteBackend", "Backends", "TestSupport", "Proxy", "Server", "Client", "wirelog",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ProtocolsTests",
            dependencies: ["Protocols", "Recording", "LabProtocol", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "NIORecordingTests",
            dependencies: [
                "NIORecording", "Recording",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "PresentationTests",
            dependencies: [
                "Presentation",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "StoreTests", dependencies: ["Recording", "SQLiteBackend", "PostgresBackend", "Backends", "TestSupport"]),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Recording", "SQLiteBackend", "Backends", "TestSupport", "Server", "Client", "LabProtocol", "wirelog",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ProxyTests",
            dependencies: [
                "Recording", "SQLiteBackend", "Backends", "TestSupport", "Proxy", "Protocols", "Server", "Client", "LabProtocol", "Presentation",
                "WirelogTLS", "wirelog",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "QueryTests",
            dependencies: [
                "Recording", "SQLiteBackend", "Backends", "TestSupport", "Server", "Client", "LabProtocol", "Presentation",
                "SessionFormats", "wirelog",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ReplayTests",
            dependencies: [
                "Recording", "SQLiteBackend", "Backends", "TestSupport", "Replay", "Server", "Client", "LabProtocol", "wirelog",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The promises of docs/RELIABILITY.md: hostile input, crashes, load, storage faults, fuzzing.
        .testTarget(
            name: "ReliabilityTests",
            dependencies: [
                "Recording", "SQLiteBackend", "Backends", "TestSupport", "Server", "Client", "LabProtocol", "Bench", "wirelog",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Issue 11's promises for a fleet of recorders sharing one PostgreSQL: load, crashes, outages.
        .testTarget(
            name: "ScaleOutTests",
            dependencies: [
                "Recording", "Backends", "PostgresBackend", "TestSupport", "Server", "Client", "wirelog",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The viewer over real HTTP (HummingbirdTesting's live server) and in headless Chromium.
        .testTarget(
            name: "WebViewerTests",
            dependencies: [
                "Recording", "SQLiteBackend", "Backends", "TestSupport", "WebViewer", "SessionFormats", "LabProtocol",
                "Protocols", "Client", "wirelog",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["browser"]
        ),
        .testTarget(
            name: "MockTests",
            dependencies: [
                "Recording", "SQLiteBackend", "Backends", "TestSupport", "Mock", "Replay", "Proxy", "Server", "Client",
                "LabProtocol", "wirelog",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Issue 27: metrics, health, status and logs of a running wirelog, over real sockets and stores.
        .testTarget(
            name: "OperationsTests",
            dependencies: [
                "Recording", "Backends", "TestSupport", "Operations", "Telemetry", "Client", "wirelog",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "BenchTests",
            dependencies: [
                "Recording", "SQLiteBackend", "Backends", "TestSupport", "Bench", "Server", "LabProtocol", "wirelog",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
