import NIOCore
import Testing
import TFTP
@testable import Simulation
import WireProtocols

@Suite("the simulated phone's side of a TFTP read (RFC 1350, 2347, 2348), without the network", .timeLimit(.minutes(5)))
struct TFTPReadSessionTests {
    func datagram(_ packet: TFTPPacket) -> ByteBuffer {
        var buffer = ByteBuffer()
        packet.write(into: &buffer)
        return buffer
    }

    func data(_ block: UInt16, _ count: Int) -> ByteBuffer {
        datagram(.data(block: block, payload: ByteBuffer(bytes: [UInt8](repeating: UInt8(block & 0xff), count: count))))
    }

    @Test("it asks as a phone does (octet, blksize 1024, tsize 0); an OACK's block size is used and acknowledged with block 0")
    func negotiated() throws {
        var session = TFTPReadSession(name: "00156574b150.boot")
        guard case .readRequest(let request) = try TFTPPacket(parsing: ByteBuffer(bytes: session.request)) else {
            Issue.record("not a read request")
            return
        }
        #expect(request.filename == "00156574b150.boot" && request.mode == "octet")
        #expect(request.options.map { [$0.name, $0.value] } == [["blksize", "1024"], ["tsize", "0"]])
        let step = session.receive(datagram(.optionAcknowledgement([("blksize", "1024"), ("tsize", "1500")])))
        #expect(step.send == [0, 4, 0, 0] && step.end == nil)
        // A full block of 1024 bytes is not the last; a shorter one is.
        #expect(session.receive(data(1, 1024)).send == [0, 4, 0, 1])
        let last = session.receive(data(2, 476))
        #expect(last.send == [0, 4, 0, 2])
        guard case .found(_, let bytes) = last.end else {
            Issue.record("not ended with the file: \(String(describing: last.end))")
            return
        }
        #expect(bytes.count == 1500 && bytes.prefix(1024).allSatisfy { $0 == 1 } && bytes.suffix(476).allSatisfy { $0 == 2 })
    }

    @Test("without an OACK blocks are 512 bytes; a repeated block is acknowledged again and not kept twice")
    func plainAndRepeated() {
        var session = TFTPReadSession(name: "y000000000000.boot")
        #expect(session.receive(data(1, 512)).send == [0, 4, 0, 1])
        let again = session.receive(data(1, 512))
        #expect(again.send == [0, 4, 0, 1] && again.end == nil)
        // A block from the future is not acknowledged.
        #expect(session.receive(data(5, 10)).send == nil)
        guard case .found(_, let bytes) = session.receive(data(2, 0)).end else {
            Issue.record("an empty last block did not end the transfer")
            return
        }
        #expect(bytes.count == 512)
    }

    @Test("file not found is a final answer, another error is a refusal; garbage is ignored")
    func errors() {
        var missing = TFTPReadSession(name: "a.cfg")
        #expect(missing.receive(ByteBuffer(bytes: [0, 9, 1])).send == nil)
        #expect(missing.receive(datagram(.error(TFTPError(code: .fileNotFound, message: "no")))).end == .notFound("not-found"))
        var refused = TFTPReadSession(name: "a.cfg")
        #expect(refused.receive(datagram(.error(TFTPError(code: .accessViolation, message: "outside the root")))).end
                == .refused("error 2: outside the root"))
    }

    @Test("silence: the last packet sent goes again, five times, then the attempt fails; an answer starts the count again")
    func silence() {
        var session = TFTPReadSession(name: "a.cfg")
        for _ in 0..<5 { #expect(session.silence().send == session.request) }
        #expect(session.silence().end == .failed("timeout"))
        var answered = TFTPReadSession(name: "a.cfg")
        for _ in 0..<4 { _ = answered.silence() }
        #expect(answered.receive(data(1, 512)).send == [0, 4, 0, 1])
        for _ in 0..<5 { #expect(answered.silence().send == [0, 4, 0, 1]) }
        #expect(answered.silence().end == .failed("timeout"))
    }
}
