// swift-tools-version: 6.2
import PackageDescription

// Dependency groups several targets share.
let nio: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
]
let service: [Target.Dependency] = [
    .product(name: "Logging", package: "swift-log"),
    .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
]
let tls: [Target.Dependency] = [.product(name: "NIOSSL", package: "swift-nio-ssl")]
let crypto: [Target.Dependency] = [.product(name: "Crypto", package: "swift-crypto")]

let package = Package(
    name: "autoprov",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "autoprov", targets: ["autoprov"]),
        .library(name: "ProvisioningCore", targets: ["ProvisioningCore"]),
        // For the fuzz targets in Fuzz/ (a package of their own, built with libFuzzer).
        .library(name: "SIP", targets: ["SIP"]),
        .library(name: "DHCP", targets: ["DHCP"]),
        .library(name: "WireProtocols", targets: ["WireProtocols"]),
        .library(name: "Inventory", targets: ["Inventory", "Storage"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        // Several nodes on one PostgreSQL ([store] url); the embedded default stays SQLite.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        // The admin listener only; its default traits (swift-configuration, full Foundation) are not needed.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
    ],
    // Targets from the inside out; each may use only those above it (ARCHITECTURE.md, README "Architecture").
    targets: [
        // ProvisioningCore: the phone's rules and formats (R1-R8, S2 paths, R6 keys, Digest), no I/O.
        .target(
            name: "ProvisioningCore",
            dependencies: [
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ] + crypto
        ),
        // SIP, DHCP: message codecs and transaction or lease state machines, no I/O and no dependencies.
        .target(name: "SIP"),
        // WireProtocols: TFTP's packets and option negotiation, the HTTP fast path's request-head scanner and FTP's
        // command lines, read straight from the bytes a socket gave; no I/O and no dependency but NIOCore's buffers,
        // so that they are fuzzed on their own.
        .target(name: "WireProtocols", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        .target(name: "DHCP"),
        // CLinuxShims: the Linux calls Glibc does not export (epoll, eventfd, accept4, thread names).
        .target(name: "CLinuxShims"),
        // Storage: the request log, device registry and DHCP leases (SQLite through GRDB); uses Core.
        .target(
            name: "Storage",
            dependencies: [
                "ProvisioningCore", "CLinuxShims",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ] + nio + service
        ),
        // PostgresStore: the stores of Storage on PostgreSQL (postgres-nio), for several nodes sharing one database.
        .target(
            name: "PostgresStore",
            dependencies: [
                "ProvisioningCore", "Storage",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ] + nio + service
        ),
        // Settings: autoprov.toml (TOML subset), every settings type, TLS certificates; uses Core and DHCP values.
        .target(
            name: "Settings",
            dependencies: [
                "ProvisioningCore", "DHCP",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ] + tls + crypto
        ),
        // Inventory: templates (swift-mustache), rendering each device's files with provenance, template lint; uses
        // Storage and Core.
        .target(
            name: "Inventory",
            dependencies: [
                "ProvisioningCore", "Storage", "CLinuxShims",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // FileService: the one decision per request (S1-S5, R6.3 on the fly, uploads, generated files, cache,
        // recording); knows no protocol; uses Core, Storage and Inventory.
        .target(
            name: "FileService",
            dependencies: ["ProvisioningCore", "Storage", "Inventory", "CLinuxShims"] + nio + crypto
        ),
        // FastLoop: the epoll loops the HTTP and FTP fast paths run on (threads, SO_REUSEPORT, accept, drain).
        .target(
            name: "FastLoop",
            dependencies: [
                "CLinuxShims",
                .product(name: "NIOCore", package: "swift-nio"),
            ] + service
        ),
        // TFTP, FTP, HTTP: per protocol its codec, state machine, drivers (SwiftNIO; each also an epoll fast
        // path) and the front-end onto the file service; use FileService, FastLoop, Core, NIO.
        .target(
            name: "TFTP",
            dependencies: ["ProvisioningCore", "FileService", "FastLoop", "CLinuxShims", "WireProtocols"] + nio + service
        ),
        .target(
            name: "FTP",
            dependencies: ["ProvisioningCore", "FileService", "FastLoop", "CLinuxShims", "WireProtocols"] + nio + service + tls
        ),
        .target(
            name: "HTTP",
            dependencies: [
                "ProvisioningCore", "FileService", "FastLoop", "CLinuxShims", "WireProtocols",
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
            ] + nio + service + tls
        ),
        // Resolution: what a phone ends up with (the phone's algorithm over a root and the generated files) with the
        // provenance of each file and setting, for `resolve` and the admin API; uses FileService, Inventory, Core.
        .target(
            name: "Resolution",
            dependencies: ["ProvisioningCore", "FileService", "Inventory"]
        ),
        // Admin: the administrators' listener (Hummingbird, not a phone path): the REST API /api/v1 and its OpenAPI
        // document, bearer tokens; the web console (Mustache pages, sessions); over the same calls as the CLI.
        .target(
            name: "Admin",
            dependencies: [
                "ProvisioningCore", "Storage", "Inventory", "Resolution", "FileService",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ] + service + crypto + tls
        ),
        // Simulation: a phone on the network (the phone's algorithm with HTTP, HTTPS and TFTP downloads as a phone
        // makes them); uses Core, the TFTP codec and the epoll shims (its TFTP client runs on threads of its own).
        .target(
            name: "Simulation",
            dependencies: [
                "ProvisioningCore", "TFTP", "FastLoop", "CLinuxShims", "WireProtocols",
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ] + nio + tls
        ),
        // ProvisioningServer: the PnP responder, the DHCP listener, the check-sync client, and the wiring that builds
        // every listener from the configuration into one ServiceGroup; uses everything above.
        .target(
            name: "ProvisioningServer",
            dependencies: [
                "ProvisioningCore", "Settings", "FileService", "HTTP", "TFTP", "FTP", "SIP", "DHCP", "Storage",
                "PostgresStore", "Inventory", "Admin", "CLinuxShims",
            ] + nio + service + tls + crypto
        ),
        // autoprov: the CLI, one small command per subcommand.
        .executableTarget(
            name: "autoprov",
            dependencies: [
                "ProvisioningCore", "Settings", "FileService", "ProvisioningServer", "Storage", "PostgresStore", "Inventory",
                "Admin", "Resolution",
                "Simulation", "CLinuxShims",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ] + nio + crypto
        ),
        // Load clients and ceilings that scripts/bench and the DHCP tests run.
        .executableTarget(
            name: "tftp-load",
            dependencies: nio,
            path: "Benchmarks/TFTPLoad"
        ),
        .executableTarget(
            name: "http-ceiling",
            dependencies: nio,
            path: "Benchmarks/HTTPCeiling"
        ),
        .executableTarget(name: "dhcp-load", dependencies: ["DHCP"], path: "Benchmarks/DHCPLoad"),
        .executableTarget(name: "epoll-ceiling", dependencies: ["CLinuxShims"], path: "Benchmarks/EpollCeiling"),
        // Unit tests beside each target; AutoprovTests run the built autoprov with real clients over real sockets.
        .testTarget(
            name: "ProvisioningCoreTests",
            dependencies: ["ProvisioningCore"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "ProvisioningServer", "Settings", "FileService", "DHCP", "Storage", "ProvisioningCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "TFTPTests",
            dependencies: [
                "TFTP", "WireProtocols",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "FTPTests", dependencies: ["FTP", "WireProtocols", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "TFTP", "WireProtocols", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(
            name: "FileServiceTests",
            dependencies: ["FileService", "ProvisioningCore", "Storage", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "HTTPTests",
            dependencies: ["HTTP", "FileService", "WireProtocols", .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio")]
        ),
        .testTarget(
            name: "StorageTests",
            dependencies: [
                "Storage", "FileService",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What several test targets share: a throwaway PostgreSQL cluster (initdb in a temporary folder), and a thread
        // of its own for a blocking test body.
        .target(name: "TestSupport", dependencies: ["Storage"], path: "Tests/TestSupport"),
        .testTarget(
            name: "PostgresStoreTests",
            dependencies: [
                "PostgresStore", "TestSupport", "Storage",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(name: "InventoryTests", dependencies: ["Inventory", "Storage", "ProvisioningCore"]),
        .testTarget(name: "SettingsTests", dependencies: ["Settings", "ProvisioningCore", "DHCP"]),
        .testTarget(name: "SIPTests", dependencies: ["SIP"]),
        .testTarget(name: "DHCPTests", dependencies: ["DHCP"]),
        .testTarget(
            name: "AutoprovTests",
            dependencies: ["ProvisioningCore", "TestSupport"],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
