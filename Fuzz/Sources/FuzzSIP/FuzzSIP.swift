import FuzzDriver
import SIP

/// A datagram as the PnP and check-sync listeners receive it: parsed, written back out, and read as a PnP
/// SUBSCRIBE.
@_cdecl("LLVMFuzzerTestOneInput")
public func test(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    if let message = try? SIPMessage(parsing: UnsafeBufferPointer(start: start, count: count)) {
        _ = message.serialized()
        _ = try? PnPSubscription(message)
    }
    return 0
}

@_cdecl("FuzzSIP_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fuzz_driver(argc, argv, test)
}
