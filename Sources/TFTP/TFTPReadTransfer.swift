import NIOCore
import WireProtocols

/// What a transfer state machine asks its channel to do.
public enum TFTPAction: Sendable, Hashable {
    /// Send these packets to the client, in order.
    case send([TFTPPacket])
    /// Call ``TFTPReadTransfer/timeout()`` (or the write transfer's) after this many seconds unless a packet comes.
    case armTimer(seconds: Int)
    /// The transfer is over; close the channel.
    case finish(TFTPTransferResult)
    /// Nothing to do (a duplicate or stale packet).
    case none
}

/// How a transfer ended.
public enum TFTPTransferResult: Sendable, Hashable {
    case completed(bytes: Int)
    case failed(String, bytes: Int)
}

/// The server side of a read transfer (RFC 1350 with RFC 2347–2349 and RFC 7440 windows), driven by events.
///
/// Block numbers roll over from 65535 to 0, so files of any size transfer. Duplicate ACKs never cause a resend
/// (no Sorcerer's Apprentice): only a timeout or an ACK from inside the window does.
public struct TFTPReadTransfer: Sendable {
    let payload: ByteBuffer
    let negotiation: TFTPNegotiation
    let maximumRetries: Int
    /// The number of DATA blocks: one more than full blocks, so the last is always short (possibly empty).
    let blockCount: Int
    /// The first block (1-based index) not yet acknowledged.
    private(set) var base = 1
    /// The highest block index sent so far.
    private var highestSent = 0
    private var retries = 0
    private var awaitingOptionAck: Bool

    public init(payload: ByteBuffer, negotiation: TFTPNegotiation, maximumRetries: Int = 5) {
        self.payload = payload
        self.negotiation = negotiation
        self.maximumRetries = maximumRetries
        blockCount = payload.readableBytes / negotiation.blockSize + 1
        awaitingOptionAck = !negotiation.acknowledged.isEmpty
    }

    /// The first packets: the OACK, or the first window of data.
    public mutating func start() -> [TFTPAction] {
        if awaitingOptionAck {
            return [.send([.optionAcknowledgement(negotiation.acknowledged)]), .armTimer(seconds: negotiation.timeoutSeconds)]
        }
        return sendWindow()
    }

    /// A packet from the client.
    public mutating func receive(_ packet: TFTPPacket) -> [TFTPAction] {
        switch packet {
        case .acknowledgement(let block):
            if awaitingOptionAck {
                guard block == 0 else { return [.none] }
                awaitingOptionAck = false
                retries = 0
                return sendWindow()
            }
            // Which sent block does this acknowledge? Only blocks base-1 ... highestSent count.
            let offset = Int(block &- UInt16(truncatingIfNeeded: base - 1))
            let acknowledged = base - 1 + offset
            guard offset > 0, acknowledged <= highestSent else { return [.none] }
            base = acknowledged + 1
            retries = 0
            // RFC 7440: an ACK short of the window's end reports a gap; resend from there.
            highestSent = acknowledged
            if acknowledged == blockCount { return [.finish(.completed(bytes: payload.readableBytes))] }
            return sendWindow()
        case .error(let error):
            return [.finish(.failed("client sent error \(error.code.rawValue): \(error.message)", bytes: sentBytes))]
        default:
            return [.send([.error(TFTPError(code: .illegalOperation, message: "unexpected packet"))]),
                    .finish(.failed("client sent an unexpected packet", bytes: sentBytes))]
        }
    }

    /// No ACK came in time: resend the OACK or the window from the first unacknowledged block.
    public mutating func timeout() -> [TFTPAction] {
        retries += 1
        guard retries <= maximumRetries else {
            return [.finish(.failed("no acknowledgement after \(maximumRetries) retransmissions", bytes: sentBytes))]
        }
        if awaitingOptionAck { return start() }
        highestSent = base - 1
        return sendWindow()
    }

    private var sentBytes: Int { min((base - 1) * negotiation.blockSize, payload.readableBytes) }

    private mutating func sendWindow() -> [TFTPAction] {
        let last = min(base + negotiation.windowSize - 1, blockCount)
        var packets: [TFTPPacket] = []
        if highestSent < last {
            for index in max(base, highestSent + 1)...last { packets.append(block(index)) }
            highestSent = last
        }
        return [.send(packets), .armTimer(seconds: negotiation.timeoutSeconds)]
    }

    private func block(_ index: Int) -> TFTPPacket {
        let start = (index - 1) * negotiation.blockSize
        let length = min(negotiation.blockSize, payload.readableBytes - start)
        let slice = payload.getSlice(at: payload.readerIndex + start, length: max(length, 0)) ?? ByteBuffer()
        return .data(block: UInt16(truncatingIfNeeded: index), payload: slice)
    }
}
