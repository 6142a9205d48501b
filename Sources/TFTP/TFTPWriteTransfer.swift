import NIOCore
import FileService
import WireProtocols

/// The server side of a write transfer (RFC 1350 with options): DATA in, ACKs out, bounded size.
public struct TFTPWriteTransfer: Sendable {
    let negotiation: TFTPNegotiation
    let maximumBytes: Int
    let maximumRetries: Int
    /// The share of the server's upload budget the blocks received are held in (given back when the transfer goes).
    let reservation: UploadReservation?
    private(set) var received = ByteBuffer()
    /// Bytes already received that had to move to new storage when a block was added: the buffer's growth (about
    /// the file's size in all), or a copy because the buffer was shared, which would make an upload quadratic.
    private(set) var bytesMoved = 0
    /// The last block index received in order (0 before any).
    private var lastBlock = 0
    private var retries = 0
    private var blocksSinceAck = 0
    private var done = false

    public init(negotiation: TFTPNegotiation, maximumBytes: Int, maximumRetries: Int = 5,
                reservation: UploadReservation? = nil) {
        self.negotiation = negotiation
        self.maximumBytes = maximumBytes
        self.maximumRetries = maximumRetries
        self.reservation = reservation
    }

    /// The refusal when the server's upload budget is full (`[limits] upload_mb`): error 3, "allocation exceeded",
    /// which a phone takes as a failure to try again later.
    static let budgetFull = TFTPError(code: .diskFull, message: "too many uploads at once; try again later")

    /// The first packet: OACK, or ACK of block 0.
    public func start() -> [TFTPAction] {
        let first: TFTPPacket = negotiation.acknowledged.isEmpty
            ? .acknowledgement(block: 0) : .optionAcknowledgement(negotiation.acknowledged)
        return [.send([first]), .armTimer(seconds: negotiation.timeoutSeconds)]
    }

    /// What a DATA packet completes: nil while more is expected, else the whole file to store.
    public enum Progress: Sendable, Hashable {
        case actions([TFTPAction])
        /// The last block arrived: store `file`, then send ``finalAcknowledgement``.
        case complete(ByteBuffer)
    }

    public mutating func receive(_ packet: TFTPPacket) -> Progress {
        switch packet {
        case .data(let block, let payload):
            guard !done else { return .actions([.none]) }
            let expected = UInt16(truncatingIfNeeded: lastBlock + 1)
            guard block == expected else {
                // A duplicate or out-of-order block: acknowledge what we have (RFC 7440 asks for the last in order).
                return .actions([.send([.acknowledgement(block: UInt16(truncatingIfNeeded: lastBlock))]),
                                 .armTimer(seconds: negotiation.timeoutSeconds)])
            }
            guard received.readableBytes + payload.readableBytes <= maximumBytes,
                  payload.readableBytes <= negotiation.blockSize
            else {
                done = true
                return .actions([.send([.error(TFTPError(code: .diskFull, message: "upload exceeds \(maximumBytes) bytes"))]),
                                 .finish(.failed("upload too large", bytes: received.readableBytes))])
            }
            guard reservation?.hold(received.readableBytes + payload.readableBytes) != false else {
                done = true
                return .actions([.send([.error(TFTPWriteTransfer.budgetFull)]),
                                 .finish(.failed("upload budget full", bytes: received.readableBytes))])
            }
            let length = payload.readableBytes
            var payload = payload
            let storage = received.withVeryUnsafeBytes { $0.baseAddress }
            let kept = received.readableBytes
            received.writeBuffer(&payload)
            if received.withVeryUnsafeBytes({ $0.baseAddress }) != storage { bytesMoved += kept }
            lastBlock += 1
            retries = 0
            if length < negotiation.blockSize {
                done = true
                return .complete(received)
            }
            blocksSinceAck += 1
            if blocksSinceAck >= negotiation.windowSize {
                blocksSinceAck = 0
                return .actions([.send([.acknowledgement(block: block)]), .armTimer(seconds: negotiation.timeoutSeconds)])
            }
            return .actions([.armTimer(seconds: negotiation.timeoutSeconds)])
        case .error(let error):
            done = true
            return .actions([.finish(.failed("client sent error \(error.code.rawValue): \(error.message)",
                                             bytes: received.readableBytes))])
        default:
            return .actions([.send([.error(TFTPError(code: .illegalOperation, message: "unexpected packet"))]),
                             .finish(.failed("client sent an unexpected packet", bytes: received.readableBytes))])
        }
    }

    /// The ACK of the last block, once the file is stored.
    public var finalAcknowledgement: TFTPPacket { .acknowledgement(block: UInt16(truncatingIfNeeded: lastBlock)) }

    /// No DATA came in time: re-acknowledge the last block, up to the retry limit.
    public mutating func timeout() -> [TFTPAction] {
        retries += 1
        guard retries <= maximumRetries else {
            return [.finish(.failed("no data after \(maximumRetries) retransmissions", bytes: received.readableBytes))]
        }
        let packet: TFTPPacket = lastBlock == 0 && !negotiation.acknowledged.isEmpty
            ? .optionAcknowledgement(negotiation.acknowledged) : .acknowledgement(block: UInt16(truncatingIfNeeded: lastBlock))
        return [.send([packet]), .armTimer(seconds: negotiation.timeoutSeconds)]
    }
}
