import FuzzDriver
import ProvisioningCore

/// Bytes as a phone's files, headers and an administrator's imports bring them: every ProvisioningCore parser reads
/// the same input (CFG and boot files, activation codes, the linter, User-Agent, Digest headers, CSV, file names,
/// the TOML configuration).
@_cdecl("LLVMFuzzerTestOneInput")
public func test(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    let file = ConfigFile(bytes: bytes)
    _ = BootFile(file)
    _ = ActivationCodes.parse(file)
    _ = Linter().lint(path: "00156574b150.cfg", bytes: bytes)
    _ = Linter().lint(path: "y000000000000.boot", bytes: bytes)
    let text = String(decoding: bytes, as: UTF8.self)
    _ = try? UserAgent(text)
    _ = DigestResponse(header: text, method: "GET")
    _ = DigestChallenge(text)
    _ = try? CSVTable(parsing: text)
    _ = ProvisioningFileName(text)
    _ = try? TOML.parse(text)
    return 0
}

@_cdecl("FuzzCore_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fuzz_driver(argc, argv, test)
}
