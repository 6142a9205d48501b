import Foundation
@testable import DHCP
import Testing

/// RFC 2131 §2 and RFC 2132: the message layout, options, and what a hostile datagram gets.
@Suite("DHCP messages (RFC 2131, 2132, 3396)", .timeLimit(.minutes(2)))
struct DHCPMessageTests {
    static let mac: [UInt8] = [0x00, 0x15, 0x65, 0x4a, 0xa9, 0x37]

    static func discover() -> DHCPMessage {
        var message = DHCPMessage(op: 1, xid: 0x3903_F326, chaddr: mac)
        message.flags = 0x8000
        message.set(DHCPOption.messageType, [DHCPMessageType.discover.rawValue])
        message.set(DHCPOption.parameterRequestList, [1, 3, 6, 66, 43, 160])
        message.set(DHCPOption.vendorClass, Array("yealink".utf8))
        return message
    }

    @Test("fields sit where RFC 2131 puts them; a message survives serialization and parsing")
    func layout() throws {
        let bytes = Self.discover().serialized()
        #expect(bytes.count == 300)
        #expect(bytes[0] == 1 && bytes[1] == 1 && bytes[2] == 6)
        #expect(Array(bytes[4..<8]) == [0x39, 0x03, 0xF3, 0x26])
        #expect(Array(bytes[10..<12]) == [0x80, 0x00])
        #expect(Array(bytes[28..<34]) == Self.mac)
        #expect(Array(bytes[236..<240]) == [99, 130, 83, 99])
        #expect(Array(bytes[240..<243]) == [53, 1, 1])
        let parsed = try DHCPMessage(parsing: bytes)
        #expect(parsed == Self.discover())
        #expect(parsed.messageType == .discover)
        #expect(parsed.wantsBroadcast)
        #expect(parsed.vendorClass == "yealink")
        #expect(parsed.parameterRequestList == [1, 3, 6, 66, 43, 160])
    }

    @Test("RFC 3396: an option longer than 255 bytes goes out in parts and comes back whole")
    func longOptions() throws {
        var message = Self.discover()
        let long = (0..<600).map { UInt8($0 % 251) }
        message.set(43, long)
        let parsed = try DHCPMessage(parsing: message.serialized())
        #expect(parsed.option(43) == long)
    }

    @Test("option 52: the file and sname fields hold more options")
    func overload() throws {
        var bytes = Self.discover().serialized()
        let end = bytes.firstIndex(of: 255, after: 240)!
        bytes.insert(contentsOf: [52, 1, 3], at: end)
        bytes.replaceSubrange(108..<114, with: [66, 4] + Array("tftp".utf8))
        bytes[108 + 6] = 255
        bytes.replaceSubrange(44..<49, with: [150, 2, 10, 0, 255])
        let parsed = try DHCPMessage(parsing: bytes)
        #expect(parsed.option(66) == Array("tftp".utf8))
        #expect(parsed.option(150) == [10, 0])
    }

    @Test("hostile datagrams are refused with the problem and its byte; none crashes the parser")
    func hostile() {
        let good = Self.discover().serialized()
        for length in [0, 1, 100, 239] {
            #expect(throws: DHCPParseError(code: .tooShort, offset: length)) { try DHCPMessage(parsing: Array(good.prefix(length))) }
        }
        var badCookie = good
        badCookie[237] = 0
        #expect(throws: DHCPParseError(code: .badMagicCookie, offset: 236)) { try DHCPMessage(parsing: badCookie) }
        var badOp = good
        badOp[0] = 3
        #expect(throws: DHCPParseError(code: .badOperation, offset: 0)) { try DHCPMessage(parsing: badOp) }
        var badLength = good
        badLength[2] = 17
        #expect(throws: DHCPParseError(code: .badHardwareLength, offset: 2)) { try DHCPMessage(parsing: badLength) }
        let overrun = Array(good.prefix(240)) + [53, 1, 1, 60, 200] + Array("yealink".utf8)
        #expect(throws: DHCPParseError(code: .optionOverrun, offset: 243)) { try DHCPMessage(parsing: overrun) }
        // A new seed each run (or AUTOPROV_TEST_SEED), printed first: a crash ends the process before any message.
        let seed = ProcessInfo.processInfo.environment["AUTOPROV_TEST_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
        print("corrupted DHCP messages: random input from seed \(seed) (AUTOPROV_TEST_SEED=\(seed) repeats it)")
        var generator = XorshiftStar(state: seed)
        for _ in 0..<3000 {
            var copy = good
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                copy[Int.random(in: 0..<copy.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            if Bool.random(using: &generator) { copy = Array(copy.prefix(Int.random(in: 0...copy.count, using: &generator))) }
            _ = try? DHCPMessage(parsing: copy)
        }
    }

    @Test("addresses: dotted decimal both ways; anything else is refused")
    func addresses() {
        #expect(IPv4Address("192.0.2.10")?.bytes == [192, 0, 2, 10])
        #expect(IPv4Address("192.0.2.10")?.description == "192.0.2.10")
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "a.b.c.d", "1..2.3", "1.2.3.1234"] {
            #expect(IPv4Address(bad) == nil, "\(bad)")
        }
    }
}

extension Array where Element == UInt8 {
    func firstIndex(of value: UInt8, after start: Int) -> Int? {
        self[start...].firstIndex(of: value)
    }
}

/// xorshift64*, seeded by the test so that a run can be repeated.
struct XorshiftStar: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}
