// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "autoprov",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "autoprov", targets: ["autoprov"]),
        .library(name: "ProvisioningCore", targets: ["ProvisioningCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        .target(
            name: "ProvisioningCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "autoprov",
            dependencies: [
                "ProvisioningCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "ProvisioningCoreTests",
            dependencies: ["ProvisioningCore"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "AutoprovTests",
            dependencies: ["ProvisioningCore"],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
