// Devices/: who a phone is: MAC, model catalog (R7), User-Agent. No I/O.
/// A phone's Ethernet MAC address.
///
/// Phones name their files with the canonical form: 12 lower-case hex digits with no separators
/// (`00156574b150.cfg`, R2.1). Parsing accepts the forms administrators and phones write:
/// `00156574B150`, `00:15:65:74:b1:50` and `00-15-65-74-B1-50`.
public struct MACAddress: Sendable, Hashable, Comparable {
    /// The six octets, most significant first.
    public let octets: [UInt8]

    /// Parses a MAC address, or throws ``MACAddressError`` naming the offending text.
    public init(_ text: String) throws(MACAddressError) {
        // Read as bytes: 12 hex digits, or six pairs joined by one kind of separator (`:` or `-`).
        let bytes = text.utf8
        var octets: [UInt8] = []
        octets.reserveCapacity(6)
        let separated: Bool
        switch bytes.count {
        case 12: separated = false
        case 17: separated = true
        default: throw MACAddressError(text: text)
        }
        let separator = separated ? bytes[bytes.index(bytes.startIndex, offsetBy: 2)] : 0
        guard !separated || separator == UInt8(ascii: ":") || separator == UInt8(ascii: "-") else {
            throw MACAddressError(text: text)
        }
        var index = bytes.startIndex
        for group in 0..<6 {
            guard let high = MACAddress.hexValue(bytes[index]),
                  let low = MACAddress.hexValue(bytes[bytes.index(after: index)])
            else { throw MACAddressError(text: text) }
            octets.append(high << 4 | low)
            index = bytes.index(index, offsetBy: 2)
            if separated, group < 5 {
                guard bytes[index] == separator else { throw MACAddressError(text: text) }
                index = bytes.index(after: index)
            }
        }
        self.octets = octets
    }

    /// The value of an ASCII hex digit.
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Builds an address from six octets.
    public init(octets: [UInt8]) {
        precondition(octets.count == 6, "a MAC address has six octets")
        self.octets = octets
    }

    /// 12 lower-case hex digits, as phones write it in file names (`00156574b150`).
    public var canonical: String {
        Hex.encode(octets)
    }

    /// The organisationally unique identifier (first three octets), as `00:15:65`.
    public var oui: String {
        Hex.encode(octets.prefix(3), separator: ":")
    }

    /// Finds a MAC address in a file name stem such as `00156574b150` or `00156574B150-local`.
    /// Returns the address and whether the name used upper-case digits.
    static func fromFileStem(_ stem: Substring) -> (MACAddress, upperCase: Bool)? {
        guard stem.utf8.count == 12, let mac = try? MACAddress(String(stem)) else { return nil }
        return (mac, stem.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "F") }))
    }

    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool {
        lhs.octets.lexicographicallyPrecedes(rhs.octets)
    }
}

extension MACAddress: CustomStringConvertible {
    public var description: String { canonical }
}

extension MACAddress: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(canonical)
    }
}

/// A text that is not a MAC address in any accepted form.
public struct MACAddressError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The text that failed to parse.
    public let text: String

    public var description: String {
        "'\(text)' is not a MAC address (expected 12 hex digits, optionally separated by ':' or '-' "
            + "every two digits, e.g. 00:15:65:74:b1:50)"
    }
}
