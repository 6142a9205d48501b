// swift-tools-version: 6.2
import PackageDescription

// libFuzzer targets for the parsers that read bytes from outside, built apart from autoprov: `scripts/fuzz` builds
// them with `-Xswiftc -sanitize=fuzzer,address`, which instruments the parsers' own targets too, and runs them.
let fuzzing: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

func fuzzTarget(_ name: String, _ product: String) -> Target {
    .executableTarget(name: name, dependencies: ["FuzzDriver", .product(name: product, package: "autoprov")],
                      swiftSettings: fuzzing)
}

let package = Package(
    name: "autoprov-fuzz",
    dependencies: [.package(name: "autoprov", path: "..")],
    targets: [
        .target(name: "FuzzDriver"),
        fuzzTarget("FuzzCore", "ProvisioningCore"),
        fuzzTarget("FuzzSIP", "SIP"),
        fuzzTarget("FuzzDHCP", "DHCP"),
        fuzzTarget("FuzzWire", "WireProtocols"),
        fuzzTarget("FuzzTemplates", "Inventory"),
    ],
    swiftLanguageModes: [.v6]
)
