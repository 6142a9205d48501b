// CheckSync/: the SIP NOTIFY check-sync client behind `autoprov notify` (R8.4), over the SIP target's transactions.
import Crypto
import Foundation
import NIOCore
import ProvisioningCore
import SIP
#if canImport(Glibc)
import Glibc
#endif

/// Sends one `NOTIFY` with `Event: check-sync` (yealink-protocols.md §3) and waits for its final answer: an RFC 3261
/// non-INVITE client transaction over UDP, answering one 401/407 challenge with Digest (SHA-256 when offered, else
/// MD5). Blocking: for the CLI.
public struct CheckSyncNotifier: Sendable {
    public var target: String
    public var reboot: Bool
    public var username: String?
    public var password: String?
    public var from: String?
    /// The longest wait in all (Timer F is 32 s).
    public var timeout: Duration

    public init(target: String, reboot: Bool, username: String? = nil, password: String? = nil, from: String? = nil,
                timeout: Duration = .seconds(32)) {
        self.target = target
        self.reboot = reboot
        self.username = username
        self.password = password
        self.from = from
        self.timeout = timeout
    }

    public enum Outcome: Sendable, Hashable {
        case answered(status: Int, reason: String)
        case silent
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public func send() throws(Failure) -> Outcome {
        guard let uri = try? SIPURI(target) else { throw Failure(description: "'\(target)' is not a sip: URI") }
        let peer: SocketAddress
        do {
            peer = try SocketAddress.makeAddressResolvingHost(uri.host, port: uri.port ?? 5060)
        } catch {
            throw Failure(description: "cannot resolve \(uri.host): \(error)")
        }
        let socket = try UDPSocket(connectedTo: peer)
        defer { socket.close() }
        let local = socket.localAddress
        let callID = "\(SIPMessage.randomToken())@\(local.host)"
        let fromTag = SIPMessage.randomToken()
        let deadline = ContinuousClock.now + timeout
        var cseq: UInt32 = 1
        var authorization: (name: String, value: String)?
        while true {
            let request = makeRequest(local: local, callID: callID, fromTag: fromTag, cseq: cseq,
                                      authorization: authorization)
            guard let response = try run(SIPClientTransaction(request: request), on: socket, until: deadline) else {
                return .silent
            }
            let status = response.status ?? 0
            guard status == 401 || status == 407, authorization == nil, let username, let password else {
                if case .response(let status, let reason) = response.startLine { return .answered(status: status, reason: reason) }
                return .silent
            }
            let challengeName = status == 401 ? "WWW-Authenticate" : "Proxy-Authenticate"
            let challenges = response.headers.filter { $0.name == challengeName }.compactMap { DigestChallenge($0.value) }
            guard let challenge = challenges.first(where: { $0.algorithm == "SHA-256" })
                ?? challenges.first(where: { $0.algorithm == "MD5" })
            else { return .answered(status: status, reason: "challenge without a usable Digest algorithm") }
            authorization = (status == 401 ? "Authorization" : "Proxy-Authorization",
                             challenge.authorization(method: "NOTIFY", uri: target, username: username,
                                                     password: password, clientNonce: SIPMessage.randomToken()))
            cseq += 1
        }
    }

    private func makeRequest(local: (host: String, port: Int), callID: String, fromTag: String, cseq: UInt32,
                             authorization: (name: String, value: String)?) -> SIPMessage {
        let host = local.host.contains(":") ? "[\(local.host)]" : local.host
        var headers: [(name: String, value: String)] = [
            ("Via", "SIP/2.0/UDP \(host):\(local.port);branch=z9hG4bK\(SIPMessage.randomToken());rport"),
            ("Max-Forwards", "70"),
            ("From", "<\(from ?? "sip:autoprov@\(host)")>;tag=\(fromTag)"),
            ("To", "<\(target)>"),
            ("Call-ID", callID),
            ("CSeq", "\(cseq) NOTIFY"),
            ("Contact", "<sip:autoprov@\(host):\(local.port)>"),
            ("Event", "check-sync;reboot=\(reboot)"),
            ("Subscription-State", "terminated"),
            ("User-Agent", "autoprov"),
        ]
        if let authorization { headers.append(authorization) }
        return .request("NOTIFY", uri: target, headers: headers)
    }

    /// Drives one transaction with the real clock; the final response, or nil after Timer F or the deadline.
    private func run(_ start: SIPClientTransaction, on socket: UDPSocket, until deadline: ContinuousClock.Instant)
        throws(Failure) -> SIPMessage? {
        var transaction = start
        var timers: [SIPTimer: ContinuousClock.Instant] = [:]
        var final: SIPMessage?
        var ended = false
        func perform(_ actions: [SIPTransactionAction]) {
            for action in actions {
                switch action {
                case .send(let bytes): socket.send(bytes)
                case .schedule(let timer, let delay): timers[timer] = .now + delay
                case .cancel(let timer): timers[timer] = nil
                case .deliver(let response): if (response.status ?? 0) >= 200 { final = response }
                case .timedOut, .terminated: ended = true
                }
            }
        }
        perform(transaction.start())
        while final == nil, !ended, ContinuousClock.now < deadline {
            let next = min(timers.values.min() ?? deadline, deadline)
            let wait = max(0, (next - .now).seconds)
            if let datagram = socket.receive(waiting: wait), let response = try? SIPMessage(parsing: datagram),
               transaction.matches(response) {
                perform(transaction.receive(response))
            }
            for (timer, due) in timers where due <= .now {
                timers[timer] = nil
                perform(transaction.fire(timer))
            }
        }
        return final
    }
}

/// A UDP socket connected to one peer, with blocking waits.
final class UDPSocket {
    let descriptor: Int32
    let localAddress: (host: String, port: Int)

    init(connectedTo peer: SocketAddress) throws(CheckSyncNotifier.Failure) {
        let family = peer.protocol == .inet6 ? AF_INET6 : AF_INET
        let descriptor = socket(family, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw .init(description: "cannot open a UDP socket (errno \(errno))") }
        self.descriptor = descriptor
        let connected = peer.withSockAddr { connect(descriptor, $0, socklen_t($1)) }
        guard connected == 0 else {
            Glibc.close(descriptor)
            throw .init(description: "cannot reach \(peer) (errno \(errno))")
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST)), service = [CChar](repeating: 0, count: 32)
        _ = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &host, socklen_t(host.count), &service, socklen_t(service.count),
                            NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        let text = { (characters: [CChar]) in
            String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        localAddress = (text(host), Int(text(service)) ?? 0)
    }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, 0) }
    }

    /// A datagram, or nil when none came within `seconds` (or the peer refused: ICMP port unreachable).
    func receive(waiting seconds: Double) -> [UInt8]? {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(min(seconds * 1000, 60_000).rounded(.up))) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return Array(buffer.prefix(count))
    }

    func close() {
        Glibc.close(descriptor)
    }
}
