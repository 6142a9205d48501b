// Access/: what is checked of a request or a setting: S2 paths, S5 accounts and Digest, address ranges, configuration
// errors. No I/O.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An address or a network (`192.0.2.7`, `10.0.0.0/8`, `2001:db8::/32`), as `[limits] connections_exempt` lists them.
public struct AddressRange: Sendable, Hashable {
    let prefix: [UInt8]
    let bits: Int

    public init(_ text: String) throws(ConfigurationError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let bytes = AddressRange.bytes(String(parts[0])) else {
            throw ConfigurationError("limits.connections_exempt: '\(text)' is not an address or a network (a.b.c.d/n)")
        }
        let bits = parts.count == 2 ? Int(parts[1]) : bytes.count * 8
        guard let bits, (0...(bytes.count * 8)).contains(bits) else {
            throw ConfigurationError("limits.connections_exempt: '\(text)' has a prefix length out of range")
        }
        prefix = bytes
        self.bits = bits
    }

    public func contains(_ address: String) -> Bool {
        guard let bytes = AddressRange.bytes(address), bytes.count == prefix.count else { return false }
        let whole = bits / 8, rest = bits % 8
        guard bytes.prefix(whole) == prefix.prefix(whole) else { return false }
        guard rest > 0 else { return true }
        let mask = UInt8(0xFF) << (8 - rest)
        return bytes[whole] & mask == prefix[whole] & mask
    }

    /// The address's bytes (4 for IPv4, 16 for IPv6), or nil when it is not a numeric address.
    static func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: v6) { Array($0) } }
        return nil
    }
}
