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
    ],
    targets: [
        // SQLite from the system (libsqlite3-dev), wrapped by Store.
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
        .target(
            name: "Migrations",
            path: "migrations",
            plugins: ["EmbedMigrations"]
        ),
        .target(
            name: "Store",
            dependencies: [
                "CSQLite",
                "Migrations",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Pure protocol code: no NIO, no I/O.
        .target(name: "LabProtocol"),
        .target(
            name: "Server",
            dependencies: [
                "Store",
                "LabProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Client",
            dependencies: [
                "LabProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "WirelogCLI",
            dependencies: [
                "Store",
                "LabProtocol",
                "Server",
                "Client",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "wirelog",
            dependencies: ["WirelogCLI"]
        ),
        .testTarget(name: "LabProtocolTests", dependencies: ["LabProtocol"]),
        .testTarget(name: "StoreTests", dependencies: ["Store"]),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Server",
                "Store",
                "LabProtocol",
                "Client",
                "wirelog",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
