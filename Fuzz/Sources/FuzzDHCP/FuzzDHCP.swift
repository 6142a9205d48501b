import FuzzDriver
import DHCP

/// A datagram as the DHCP listener receives it: parsed, and what parses is encoded again.
@_cdecl("LLVMFuzzerTestOneInput")
public func test(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    if let message = try? DHCPMessage(parsing: Array(UnsafeBufferPointer(start: start, count: count))) {
        _ = message.serialized()
    }
    return 0
}

@_cdecl("FuzzDHCP_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fuzz_driver(argc, argv, test)
}
