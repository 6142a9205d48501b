/// A DHCP message (RFC 2131 §2, options per RFC 2132): the BOOTP header, the magic cookie and the options.
public struct DHCPMessage: Sendable, Equatable {
    /// 1: from a client (BOOTREQUEST); 2: from a server (BOOTREPLY).
    public var op: UInt8
    public var htype: UInt8 = 1
    public var hlen: UInt8 = 6
    public var hops: UInt8 = 0
    public var xid: UInt32
    public var secs: UInt16 = 0
    public var flags: UInt16 = 0
    public var ciaddr = IPv4Address.zero
    public var yiaddr = IPv4Address.zero
    public var siaddr = IPv4Address.zero
    public var giaddr = IPv4Address.zero
    /// The client's hardware address field: 16 bytes, of which `hlen` are meaningful.
    public var chaddr: [UInt8]
    /// Options in the order they appeared (each code once; RFC 3396 parts joined).
    public var options: [(code: UInt8, data: [UInt8])] = []

    public static let magicCookie: [UInt8] = [99, 130, 83, 99]
    /// The fixed header before the magic cookie.
    static let headerLength = 236

    public init(op: UInt8, xid: UInt32, chaddr: [UInt8]) {
        self.op = op
        self.xid = xid
        self.chaddr = Array(chaddr.prefix(16)) + [UInt8](repeating: 0, count: 16 - min(chaddr.count, 16))
    }

    public static func == (lhs: DHCPMessage, rhs: DHCPMessage) -> Bool {
        lhs.op == rhs.op && lhs.htype == rhs.htype && lhs.hlen == rhs.hlen && lhs.hops == rhs.hops && lhs.xid == rhs.xid
            && lhs.secs == rhs.secs && lhs.flags == rhs.flags && lhs.ciaddr == rhs.ciaddr && lhs.yiaddr == rhs.yiaddr
            && lhs.siaddr == rhs.siaddr && lhs.giaddr == rhs.giaddr && lhs.chaddr == rhs.chaddr
            && lhs.options.map(\.code) == rhs.options.map(\.code) && lhs.options.map(\.data) == rhs.options.map(\.data)
    }

    /// The broadcast bit of `flags` (RFC 2131 §2, figure 2).
    public var wantsBroadcast: Bool { flags & 0x8000 != 0 }

    /// The meaningful bytes of `chaddr`.
    public var hardwareAddress: [UInt8] { Array(chaddr.prefix(Int(min(hlen, 16)))) }

    public func option(_ code: UInt8) -> [UInt8]? {
        options.first { $0.code == code }?.data
    }

    /// Sets (or, with nil, removes) an option, keeping the others' order.
    public mutating func set(_ code: UInt8, _ data: [UInt8]?) {
        if let index = options.firstIndex(where: { $0.code == code }) {
            if let data { options[index].data = data } else { options.remove(at: index) }
        } else if let data {
            options.append((code, data))
        }
    }

    public var messageType: DHCPMessageType? {
        option(DHCPOption.messageType).flatMap { $0.count == 1 ? DHCPMessageType(rawValue: $0[0]) : nil }
    }

    public var requestedAddress: IPv4Address? {
        option(DHCPOption.requestedAddress).flatMap { $0.count == 4 ? IPv4Address(bytes: $0) : nil }
    }

    public var serverIdentifier: IPv4Address? {
        option(DHCPOption.serverIdentifier).flatMap { $0.count == 4 ? IPv4Address(bytes: $0) : nil }
    }

    public var parameterRequestList: [UInt8] { option(DHCPOption.parameterRequestList) ?? [] }

    public var vendorClass: String? {
        option(DHCPOption.vendorClass).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// Option 53 (RFC 2132 §9.6).
public enum DHCPMessageType: UInt8, Sendable {
    case discover = 1, offer, request, decline, ack, nak, release, inform
}

/// Option codes used here (RFC 2132).
public enum DHCPOption {
    public static let pad: UInt8 = 0
    public static let subnetMask: UInt8 = 1
    public static let router: UInt8 = 3
    public static let domainNameServer: UInt8 = 6
    public static let ntpServers: UInt8 = 42
    public static let vendorSpecific: UInt8 = 43
    public static let requestedAddress: UInt8 = 50
    public static let leaseTime: UInt8 = 51
    public static let overload: UInt8 = 52
    public static let messageType: UInt8 = 53
    public static let serverIdentifier: UInt8 = 54
    public static let parameterRequestList: UInt8 = 55
    public static let message: UInt8 = 56
    public static let maximumMessageSize: UInt8 = 57
    public static let renewalTime: UInt8 = 58
    public static let rebindingTime: UInt8 = 59
    public static let vendorClass: UInt8 = 60
    public static let clientIdentifier: UInt8 = 61
    public static let tftpServerName: UInt8 = 66
    public static let end: UInt8 = 255
}

/// Why a datagram is not a DHCP message, and where.
public struct DHCPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case tooShort = "too-short"
        case badOperation = "bad-op"
        case badHardwareLength = "bad-hlen"
        case badMagicCookie = "bad-magic-cookie"
        case optionOverrun = "option-overrun"
    }

    public var code: Code
    /// The byte where the problem is.
    public var offset: Int

    public var description: String { "\(code.rawValue) at byte \(offset)" }
}

extension DHCPMessage {
    /// Parses a datagram; options split over several instances are joined (RFC 3396), and the `file` and `sname`
    /// fields are read as options when option 52 says so.
    public init(parsing bytes: [UInt8]) throws(DHCPParseError) {
        guard bytes.count >= DHCPMessage.headerLength + 4 else { throw DHCPParseError(code: .tooShort, offset: bytes.count) }
        guard bytes[0] == 1 || bytes[0] == 2 else { throw DHCPParseError(code: .badOperation, offset: 0) }
        guard bytes[2] <= 16 else { throw DHCPParseError(code: .badHardwareLength, offset: 2) }
        guard Array(bytes[236..<240]) == DHCPMessage.magicCookie else {
            throw DHCPParseError(code: .badMagicCookie, offset: 236)
        }
        func word(_ at: Int) -> UInt32 { IPv4Address(bytes: bytes[at..<at + 4]).value }
        op = bytes[0]
        htype = bytes[1]
        hlen = bytes[2]
        hops = bytes[3]
        xid = word(4)
        secs = UInt16(bytes[8]) << 8 | UInt16(bytes[9])
        flags = UInt16(bytes[10]) << 8 | UInt16(bytes[11])
        ciaddr = IPv4Address(value: word(12))
        yiaddr = IPv4Address(value: word(16))
        siaddr = IPv4Address(value: word(20))
        giaddr = IPv4Address(value: word(24))
        chaddr = Array(bytes[28..<44])
        var collected: [(code: UInt8, data: [UInt8])] = []
        try DHCPMessage.readOptions(bytes, from: 240, to: bytes.count, into: &collected)
        let overload = collected.first { $0.code == DHCPOption.overload }?.data.first ?? 0
        if overload & 1 != 0 { try DHCPMessage.readOptions(bytes, from: 108, to: 236, into: &collected) }
        if overload & 2 != 0 { try DHCPMessage.readOptions(bytes, from: 44, to: 108, into: &collected) }
        options = collected
    }

    private static func readOptions(_ bytes: [UInt8], from start: Int, to end: Int,
                                    into options: inout [(code: UInt8, data: [UInt8])]) throws(DHCPParseError) {
        var offset = start
        while offset < end {
            let code = bytes[offset]
            if code == DHCPOption.end { return }
            if code == DHCPOption.pad {
                offset += 1
                continue
            }
            guard offset + 1 < end, offset + 2 + Int(bytes[offset + 1]) <= end else {
                throw DHCPParseError(code: .optionOverrun, offset: offset)
            }
            let data = Array(bytes[(offset + 2)..<(offset + 2 + Int(bytes[offset + 1]))])
            if let index = options.firstIndex(where: { $0.code == code }) {
                options[index].data += data
            } else {
                options.append((code, data))
            }
            offset += 2 + data.count
        }
    }

    /// The datagram: header, cookie, options (long ones split in 255-byte parts, RFC 3396), END, padded to the
    /// 300 bytes BOOTP relays and old clients expect.
    public func serialized() -> [UInt8] {
        var bytes: [UInt8] = [op, htype, hlen, hops]
        bytes.reserveCapacity(576)
        bytes += IPv4Address(value: xid).bytes
        bytes += [UInt8(secs >> 8), UInt8(secs & 0xFF), UInt8(flags >> 8), UInt8(flags & 0xFF)]
        for address in [ciaddr, yiaddr, siaddr, giaddr] { bytes += address.bytes }
        bytes += Array(chaddr.prefix(16)) + [UInt8](repeating: 0, count: 16 - min(chaddr.count, 16))
        bytes += [UInt8](repeating: 0, count: 64 + 128)
        bytes += DHCPMessage.magicCookie
        for (code, data) in options {
            var rest = data[...]
            repeat {
                let part = rest.prefix(255)
                bytes += [code, UInt8(part.count)] + part
                rest = rest.dropFirst(part.count)
            } while !rest.isEmpty
        }
        bytes.append(DHCPOption.end)
        if bytes.count < 300 { bytes += [UInt8](repeating: 0, count: 300 - bytes.count) }
        return bytes
    }
}
