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
        let digits: [Character]
        let separators = text.filter { $0 == ":" || $0 == "-" }
        if separators.isEmpty {
            digits = Array(text)
        } else {
            // Separated forms: exactly six groups of two digits, one kind of separator.
            let separator = separators.first!
            guard separators.allSatisfy({ $0 == separator }) else { throw MACAddressError(text: text) }
            let groups = text.split(separator: separator, omittingEmptySubsequences: false)
            guard groups.count == 6, groups.allSatisfy({ $0.count == 2 }) else { throw MACAddressError(text: text) }
            digits = groups.flatMap { Array($0) }
        }
        guard digits.count == 12 else { throw MACAddressError(text: text) }
        var octets: [UInt8] = []
        octets.reserveCapacity(6)
        for index in stride(from: 0, to: 12, by: 2) {
            guard let high = digits[index].hexDigitValue, let low = digits[index + 1].hexDigitValue,
                  digits[index].isASCII, digits[index + 1].isASCII
            else { throw MACAddressError(text: text) }
            octets.append(UInt8(high << 4 | low))
        }
        self.octets = octets
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
        guard stem.count == 12, stem.allSatisfy({ $0.isHexDigit && $0.isASCII }),
              let mac = try? MACAddress(String(stem))
        else { return nil }
        return (mac, stem.contains(where: { $0.isUppercase }))
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
