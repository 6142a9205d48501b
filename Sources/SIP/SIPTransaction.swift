/// RFC 3261 §17.1.1.1 timer values; T1 and T2 may be changed, §17.1.2.2 and §17.2.2 derive the rest.
public struct SIPTimers: Sendable, Hashable {
    /// Round-trip estimate: first retransmission interval.
    public var t1: Duration = .milliseconds(500)
    /// Longest retransmission interval of a non-INVITE request.
    public var t2: Duration = .seconds(4)
    /// How long a message may stay in the network (Timer K over UDP).
    public var t4: Duration = .seconds(5)

    public init() {}

    public init(t1: Duration, t2: Duration, t4: Duration) {
        self.t1 = t1
        self.t2 = t2
        self.t4 = t4
    }

    /// Timer F (client) and Timer J (server): 64·T1.
    public var transactionTimeout: Duration { t1 * 64 }
}

/// The timers of non-INVITE transactions (§17.1.2.2, §17.2.2).
public enum SIPTimer: Sendable, Hashable {
    /// Client: retransmit the request.
    case e
    /// Client: give up waiting for a final response.
    case f
    /// Client: stop absorbing response retransmissions.
    case k
    /// Server: stop answering request retransmissions.
    case j
}

/// What a transaction asks its driver to do. The driver owns the socket and the clock: it sends, schedules and
/// cancels timers, and calls back with ``SIPClientTransaction/fire(_:)`` when one expires, so a test can run a
/// transaction on a clock of its own.
public enum SIPTransactionAction: Sendable, Hashable {
    case send([UInt8])
    case schedule(SIPTimer, after: Duration)
    case cancel(SIPTimer)
    /// A response for the transaction user (client only).
    case deliver(SIPMessage)
    /// Timer F fired before a final response (client only).
    case timedOut
    case terminated
}

/// A non-INVITE client transaction over UDP (§17.1.2): sends a request, retransmits it on Timer E (T1, doubling
/// up to T2; T2 once a provisional response came), gives up on Timer F, and passes each response up once.
public struct SIPClientTransaction: Sendable {
    public enum State: Sendable, Hashable { case idle, trying, proceeding, completed, terminated }

    public let request: SIPMessage
    public let timers: SIPTimers
    public private(set) var state = State.idle
    private let wire: [UInt8]
    private var interval: Duration

    public init(request: SIPMessage, timers: SIPTimers = SIPTimers()) {
        self.request = request
        self.timers = timers
        wire = request.serialized()
        interval = timers.t1
    }

    public mutating func start() -> [SIPTransactionAction] {
        guard state == .idle else { return [] }
        state = .trying
        return [.send(wire), .schedule(.e, after: timers.t1), .schedule(.f, after: timers.transactionTimeout)]
    }

    /// Whether `response` belongs to this transaction (§17.1.3): the top Via's branch and the CSeq method.
    public func matches(_ response: SIPMessage) -> Bool {
        guard let sent = request.values("Via").first.flatMap({ try? SIPVia($0) })?.branch,
              let received = response.values("Via").first.flatMap({ try? SIPVia($0) })?.branch,
              let method = request["CSeq"].flatMap({ try? SIPCSeq($0) })?.method,
              let answered = response["CSeq"].flatMap({ try? SIPCSeq($0) })?.method
        else { return false }
        return sent == received && method == answered
    }

    public mutating func receive(_ response: SIPMessage) -> [SIPTransactionAction] {
        guard let status = response.status else { return [] }
        switch (state, status) {
        case (.trying, 100...199):
            state = .proceeding
            return [.deliver(response)]
        case (.proceeding, 100...199):
            return [.deliver(response)]
        case (.trying, 200...699), (.proceeding, 200...699):
            state = .completed
            return [.cancel(.e), .cancel(.f), .deliver(response), .schedule(.k, after: timers.t4)]
        default:
            return []  // retransmissions of the final response are absorbed
        }
    }

    public mutating func fire(_ timer: SIPTimer) -> [SIPTransactionAction] {
        switch (timer, state) {
        case (.e, .trying):
            interval = min(interval * 2, timers.t2)
            return [.send(wire), .schedule(.e, after: interval)]
        case (.e, .proceeding):
            return [.send(wire), .schedule(.e, after: timers.t2)]
        case (.f, .trying), (.f, .proceeding):
            state = .terminated
            return [.cancel(.e), .timedOut, .terminated]
        case (.k, .completed):
            state = .terminated
            return [.terminated]
        default:
            return []
        }
    }
}

/// A non-INVITE server transaction over UDP (§17.2.2): the request goes to the transaction user once; its
/// retransmissions get the last response again (nothing while none was sent), until Timer J.
public struct SIPServerTransaction: Sendable {
    public enum State: Sendable, Hashable { case trying, proceeding, completed, terminated }

    public let key: SIPTransactionKey
    public let timers: SIPTimers
    public private(set) var state = State.trying
    private var lastResponse: [UInt8]?

    public init(key: SIPTransactionKey, timers: SIPTimers = SIPTimers()) {
        self.key = key
        self.timers = timers
    }

    /// The same request arrived again.
    public mutating func receiveRetransmission() -> [SIPTransactionAction] {
        switch state {
        case .proceeding, .completed: lastResponse.map { [.send($0)] } ?? []
        case .trying, .terminated: []
        }
    }

    /// The transaction user answers.
    public mutating func respond(_ response: SIPMessage) -> [SIPTransactionAction] {
        guard let status = response.status, state == .trying || state == .proceeding else { return [] }
        let wire = response.serialized()
        lastResponse = wire
        if status < 200 {
            state = .proceeding
            return [.send(wire)]
        }
        state = .completed
        return [.send(wire), .schedule(.j, after: timers.transactionTimeout)]
    }

    public mutating func fire(_ timer: SIPTimer) -> [SIPTransactionAction] {
        guard timer == .j, state == .completed else { return [] }
        state = .terminated
        return [.terminated]
    }
}

/// What makes two requests the same transaction (§17.2.3): the top Via's branch, sent-by and the method when
/// the branch has RFC 3261's magic cookie; otherwise (older clients) Call-ID, CSeq, From tag and the top Via.
public struct SIPTransactionKey: Sendable, Hashable {
    let parts: [String]

    public init?(request: SIPMessage) {
        guard let method = request.method, let topVia = request.values("Via").first,
              let via = try? SIPVia(topVia), let cseq = request["CSeq"].flatMap({ try? SIPCSeq($0) })
        else { return nil }
        let sentBy = "\(via.host.lowercased()):\(via.port ?? 5060)"
        let name = method == "ACK" ? "INVITE" : method
        if let branch = via.branch, branch.hasPrefix("z9hG4bK") {
            parts = [branch, sentBy, name]
        } else {
            let fromTag = request["From"].flatMap { try? SIPNameAddress($0) }?.tag ?? ""
            parts = [request["Call-ID"] ?? "", String(cseq.number), name, fromTag, topVia]
        }
    }
}

extension SIPMessage {
    /// A random token for tags, branches and Call-IDs (RFC 3261 §19.3 asks for at least 32 random bits).
    public static func randomToken() -> String {
        String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }
}
