/// The transfer parameters agreed with a client (RFC 2347 option negotiation).
public struct TFTPNegotiation: Sendable, Hashable {
    /// Bytes per DATA packet (RFC 2348; 512 without the option).
    public var blockSize = 512
    /// Seconds before a retransmission (RFC 2349).
    public var timeoutSeconds: Int
    /// Blocks sent before waiting for an ACK (RFC 7440).
    public var windowSize = 1
    /// What to put in the OACK, in the client's order; empty means no OACK.
    public var acknowledged: [(String, String)] = []

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.blockSize == rhs.blockSize && lhs.timeoutSeconds == rhs.timeoutSeconds && lhs.windowSize == rhs.windowSize
            && lhs.acknowledged.map { [$0.0, $0.1] } == rhs.acknowledged.map { [$0.0, $0.1] }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(blockSize)
        hasher.combine(windowSize)
    }

    /// The server's limits.
    public struct Limits: Sendable, Hashable {
        public var maximumBlockSize = 65464
        public var maximumWindowSize = 64
        public var defaultTimeoutSeconds = 1

        public init() {}
    }

    /// Negotiates a request's options. Options the client did not ask for are never sent; unknown options are
    /// ignored; a value out of range is clamped (blksize, windowsize above the server's limit) or refused with
    /// error 8 (RFC 2347 §4: blksize below 8, timeout outside 1–255, a malformed number).
    /// `transferSize` is the file's size for a read; for a write the client's `tsize` is checked by the caller.
    public init(options: [TFTPOption], transferSize: Int?, limits: Limits = Limits()) throws(TFTPError) {
        timeoutSeconds = limits.defaultTimeoutSeconds
        var seen: Set<String> = []
        for option in options where seen.insert(option.name).inserted {
            let number = Int(option.value)
            switch option.name {
            case "blksize":
                guard let number, number >= 8 else { throw TFTPNegotiation.refuse(option) }
                blockSize = min(number, limits.maximumBlockSize)
                acknowledged.append((option.name, String(blockSize)))
            case "timeout":
                guard let number, (1...255).contains(number) else { throw TFTPNegotiation.refuse(option) }
                timeoutSeconds = number
                acknowledged.append((option.name, String(number)))
            case "tsize":
                guard let number, number >= 0 else { throw TFTPNegotiation.refuse(option) }
                acknowledged.append((option.name, String(transferSize ?? number)))
            case "windowsize":
                guard let number, number >= 1, number <= 65535 else { throw TFTPNegotiation.refuse(option) }
                windowSize = min(number, limits.maximumWindowSize)
                acknowledged.append((option.name, String(windowSize)))
            default:
                continue
            }
        }
    }

    static func refuse(_ option: TFTPOption) -> TFTPError {
        TFTPError(code: .optionNegotiation, message: "option \(option.name)=\(option.value) out of range")
    }
}
