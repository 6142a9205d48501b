import NIOCore
import Testing
@testable import TFTP
import WireProtocols

@Suite("TFTP packets and transfers (RFC 1350, 2347-2349, 7440)", .timeLimit(.minutes(2)))
struct TFTPTransferTests {
    func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

    func roundTrip(_ packet: TFTPPacket) throws -> TFTPPacket {
        var out = ByteBuffer()
        packet.write(into: &out)
        return try TFTPPacket(parsing: out)
    }

    @Test("every packet type round-trips")
    func codec() throws {
        let packets: [TFTPPacket] = [
            .readRequest(TFTPRequest(filename: "sip.cfg", mode: "octet", options: [TFTPOption(name: "blksize", value: "1428")])),
            .writeRequest(TFTPRequest(filename: "00156574b150-local.cfg", mode: "netascii")),
            .data(block: 65535, payload: buffer([1, 2, 3])), .acknowledgement(block: 0),
            .error(TFTPError(code: .fileNotFound, message: "file not found")),
            .optionAcknowledgement([("tsize", "42"), ("blksize", "512")]),
        ]
        for packet in packets { #expect(try roundTrip(packet) == packet) }
    }

    @Test("malformed datagrams are errors, not crashes", arguments: [
        [UInt8](), [0], [0, 9], [0, 1, 65], [0, 1, 65, 0], [0, 1, 0, 111, 0], [0, 4, 1], [0, 6, 65, 0],
    ])
    func malformed(bytes: [UInt8]) {
        #expect(throws: TFTPPacketError.self) { try TFTPPacket(parsing: ByteBuffer(bytes: bytes)) }
    }

    @Test("option names are case-insensitive; the mode is lower-cased")
    func caseInsensitive() throws {
        let packet = try TFTPPacket(parsing: buffer([0, 1] + Array("a.cfg\u{0}OCTET\u{0}BlkSize\u{0}1024\u{0}".utf8)))
        guard case .readRequest(let request) = packet else { Issue.record("not RRQ"); return }
        #expect(request.mode == "octet")
        #expect(request.options == [TFTPOption(name: "blksize", value: "1024")])
    }

    @Test("negotiation: only requested options are acknowledged; out-of-range values clamped or refused", arguments: [
        (["blksize": "1428"], 1428, 1, "blksize=1428"), (["blksize": "70000"], 65464, 1, "blksize=65464"),
        (["windowsize": "1000"], 512, 64, "windowsize=64"), (["tsize": "0"], 512, 1, "tsize=99"),
        (["unknown": "1"], 512, 1, ""), ([:], 512, 1, ""),
    ] as [([String: String], Int, Int, String)])
    func negotiation(options: [String: String], blockSize: Int, window: Int, acknowledged: String) throws {
        let negotiation = try TFTPNegotiation(options: options.map { TFTPOption(name: $0.key, value: $0.value) },
                                              transferSize: 99)
        #expect(negotiation.blockSize == blockSize)
        #expect(negotiation.windowSize == window)
        #expect(negotiation.acknowledged.map { "\($0.0)=\($0.1)" }.joined(separator: ",") == acknowledged)
    }

    @Test("negotiation refuses with error 8", arguments: [
        ("blksize", "7"), ("blksize", "x"), ("timeout", "0"), ("timeout", "256"), ("windowsize", "0"), ("tsize", "-1"),
    ])
    func refused(name: String, value: String) {
        #expect(throws: TFTPError.self) {
            try TFTPNegotiation(options: [TFTPOption(name: name, value: value)], transferSize: 1)
        }
    }

    func sentBlocks(_ actions: [TFTPAction]) -> [UInt16] {
        actions.flatMap { action -> [UInt16] in
            guard case .send(let packets) = action else { return [] }
            return packets.compactMap { if case .data(let block, _) = $0 { return block } else { return nil } }
        }
    }

    @Test("a read sends blocks one by one; the last is short (empty when the size is a multiple)")
    func readSequence() throws {
        let negotiation = try TFTPNegotiation(options: [], transferSize: 1024)
        var transfer = TFTPReadTransfer(payload: buffer(Array(repeating: 7, count: 1024)), negotiation: negotiation)
        #expect(sentBlocks(transfer.start()) == [1])
        #expect(sentBlocks(transfer.receive(.acknowledgement(block: 1))) == [2])
        let last = transfer.receive(.acknowledgement(block: 2))
        guard case .send(let packets) = last.first, case .data(3, let payload) = packets.first else {
            Issue.record("no block 3: \(last)"); return
        }
        #expect(payload.readableBytes == 0)
        #expect(transfer.receive(.acknowledgement(block: 3)) == [.finish(.completed(bytes: 1024))])
    }

    @Test("duplicate ACKs send nothing (Sorcerer's Apprentice); a timeout resends the window")
    func duplicateAck() throws {
        let negotiation = try TFTPNegotiation(options: [], transferSize: 2000)
        var transfer = TFTPReadTransfer(payload: buffer(Array(repeating: 1, count: 2000)), negotiation: negotiation)
        _ = transfer.start()
        #expect(sentBlocks(transfer.receive(.acknowledgement(block: 1))) == [2])
        #expect(transfer.receive(.acknowledgement(block: 1)) == [.none])
        #expect(transfer.receive(.acknowledgement(block: 0)) == [.none])
        #expect(sentBlocks(transfer.timeout()) == [2])
    }

    @Test("windows (RFC 7440): a window of blocks per ACK; an ACK short of the end resends from the gap")
    func windows() throws {
        let negotiation = try TFTPNegotiation(options: [TFTPOption(name: "windowsize", value: "4")], transferSize: 5000)
        var transfer = TFTPReadTransfer(payload: buffer(Array(repeating: 2, count: 5000)), negotiation: negotiation)
        _ = transfer.start()  // OACK
        #expect(sentBlocks(transfer.receive(.acknowledgement(block: 0))) == [1, 2, 3, 4])
        #expect(sentBlocks(transfer.receive(.acknowledgement(block: 2))) == [3, 4, 5, 6])
        #expect(sentBlocks(transfer.receive(.acknowledgement(block: 6))) == [7, 8, 9, 10])
    }

    @Test("block numbers roll over after 65535 and the transfer completes")
    func rollover() throws {
        let size = 70_000 * 8
        let negotiation = try TFTPNegotiation(options: [TFTPOption(name: "blksize", value: "8")], transferSize: size)
        var transfer = TFTPReadTransfer(payload: buffer(Array(repeating: 3, count: size)), negotiation: negotiation)
        _ = transfer.start()
        var block: UInt16 = 0
        var result: [TFTPAction] = transfer.receive(.acknowledgement(block: 0))
        var count = 1
        while case .send(let packets) = result.first, case .data(let number, _) = packets.first {
            #expect(number == block &+ 1)
            block = number
            result = transfer.receive(.acknowledgement(block: number))
            count += 1
        }
        #expect(result == [.finish(.completed(bytes: size))])
        #expect(count == 70_002)
    }

    @Test("a silent client is dropped after the retry limit")
    func retryLimit() throws {
        var transfer = TFTPReadTransfer(payload: buffer([1]), negotiation: try TFTPNegotiation(options: [], transferSize: 1),
                                        maximumRetries: 3)
        _ = transfer.start()
        for _ in 0..<3 { #expect(sentBlocks(transfer.timeout()) == [1]) }
        guard case .finish(.failed) = transfer.timeout().first else { Issue.record("not dropped"); return }
    }

    @Test("a write collects blocks, refuses more than the limit, and completes on a short block")
    func write() throws {
        var transfer = TFTPWriteTransfer(negotiation: try TFTPNegotiation(options: [], transferSize: nil), maximumBytes: 600)
        #expect(transfer.start().first == .send([.acknowledgement(block: 0)]))
        let full = buffer(Array(repeating: 65, count: 512))
        #expect(transfer.receive(.data(block: 1, payload: full)) == .actions([.send([.acknowledgement(block: 1)]), .armTimer(seconds: 1)]))
        #expect(transfer.receive(.data(block: 1, payload: full)) == .actions([.send([.acknowledgement(block: 1)]), .armTimer(seconds: 1)]))
        guard case .complete(let file) = transfer.receive(.data(block: 2, payload: buffer([66]))) else {
            Issue.record("not complete"); return
        }
        #expect(file.readableBytes == 513)
        var small = TFTPWriteTransfer(negotiation: try TFTPNegotiation(options: [], transferSize: nil), maximumBytes: 100)
        guard case .actions(let actions) = small.receive(.data(block: 1, payload: full)),
              case .send(let packets) = actions.first, case .error(let error) = packets.first
        else { Issue.record("not refused"); return }
        #expect(error.code == .diskFull)
    }

    @Test("netascii: LF becomes CR LF, CR becomes CR NUL, and back")
    func netascii() {
        let text = buffer(Array("a\nb\rc\r\n".utf8))
        let encoded = Netascii.encode(text)
        #expect(Array(encoded.readableBytesView) == Array("a\r\nb\r\u{0}c\r\u{0}\r\n".utf8))
        #expect(Netascii.decode(encoded) == text)
    }
}
