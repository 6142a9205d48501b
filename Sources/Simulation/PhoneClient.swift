// Simulation: a phone on the network. The phone's algorithm (ProvisioningCore's `Provisioning.run`) with a fetcher
// that downloads each URL as a phone does, over HTTP, HTTPS, TFTP and FTP (SwiftNIO), recording each transfer.
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ProvisioningCore
import Synchronization

/// One download as the phone made it: what it asked for, over which protocol, the answer and how long it took.
public struct Transfer: Sendable, Hashable, Encodable {
    public var url: String
    public var `protocol`: String
    /// `GET` (TFTP: a read), or `PUT` for the MAC-local file's upload.
    public var method: String
    /// `200`, `401`, `404` (HTTP status), `ok`/`not-found`/`error 2: …` (TFTP), or what failed (`timeout`, `refused`).
    public var result: String
    public var bytes: Int
    public var seconds: Double
    /// Attempts made (a failed request is retried, see ``PhoneClient/attempts``).
    public var attempts: Int
}

/// How a simulated phone talks: its User-Agent, its credentials for a directory that asks, its TLS trust.
public struct PhoneIdentity: Sendable {
    public var userAgent: String
    public var username: String?
    public var password: String?
    /// The TLS client configuration for HTTPS (trust roots, or none checked with `--insecure`; a client certificate).
    public var tls: TLSConfiguration

    public init(userAgent: String, username: String? = nil, password: String? = nil,
                tls: TLSConfiguration = .makeClientConfiguration()) {
        self.userAgent = userAgent
        self.username = username
        self.password = password
        self.tls = tls
    }

    /// The `Authorization` to ask again with when `answer` is a 401 and the phone has credentials (S5: Digest when
    /// the server offers it, else Basic); nil otherwise.
    func authorization(answering answer: HTTPExchange.Answer, method: HTTPMethod, url: ProvisioningURL) -> String? {
        guard answer.status == 401, let username, let password, let challenge = answer.challenge else { return nil }
        if challenge.lowercased().hasPrefix("digest"), let digest = DigestChallenge(challenge) {
            return digest.authorization(method: method.rawValue, uri: url.requestTarget, username: username,
                                        password: password, clientNonce: PhoneClient.clientNonce())
        }
        return "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }

    /// The User-Agent a Yealink phone sends: `Yealink SIP-T46S 66.86.0.15 00:15:65:74:b1:50`.
    public static func yealinkUserAgent(model: PhoneModel, firmware: String, mac: MACAddress) -> String {
        let hex = mac.canonical
        let colons = stride(from: 0, to: 12, by: 2).map { offset in
            String(hex[hex.index(hex.startIndex, offsetBy: offset)..<hex.index(hex.startIndex, offsetBy: offset + 2)])
        }.joined(separator: ":")
        let name = model.name.hasPrefix("W") || model.name.hasPrefix("CP") ? model.name : "SIP-" + model.name
        return "Yealink \(name) \(firmware) \(colons)"
    }
}

/// Downloads URLs as a phone: one at a time, each failed attempt (no answer, a refused connection, a server error)
/// retried ``attempts`` times in all, a second apart, before the phone gives up on that file. A 404 or TFTP's "file
/// not found" is an answer, not retried. Blocking: meant for one phone's sequential provisioning.
public final class PhoneClient: Sendable {
    public let identity: PhoneIdentity
    /// How long one attempt may take before it counts as failed.
    public let timeout: TimeAmount
    /// Attempts per file; Yealink's count is not documented (`attempt_before_failed` exists without semantics), so
    /// autoprov's phone tries three times, a second apart.
    public let attempts: Int
    /// The process's event loops (never shut down: the last reference to a client may go on one of them).
    var group: MultiThreadedEventLoopGroup { .singleton }
    let sslContext: NIOSSLContext
    private let recorded = Mutex<[Transfer]>([])

    public init(identity: PhoneIdentity, timeout: TimeAmount = .seconds(5), attempts: Int = 3) throws {
        self.identity = identity
        self.timeout = timeout
        self.attempts = attempts
        sslContext = try NIOSSLContext(configuration: identity.tls)
    }

    /// The transfers so far, in order.
    public var transfers: [Transfer] { recorded.withLock { $0 } }

    /// The phone's download of `url`, as ``Provisioning/run(_:fetch:)`` asks for it (waits; not on an event loop).
    public func fetch(_ url: ProvisioningURL) -> FetchResult {
        let started = ContinuousClock.now
        let (outcome, attempt) = (try? download(url, userAgent: identity.userAgent, on: group.next()).wait())
            ?? (.failed("no answer"), 1)
        let (result, bytes, fetched) = PhoneClient.result(of: outcome)
        record(url, result: result, bytes: bytes, started: started, attempts: attempt, method: "GET")
        return fetched
    }

    /// What an attempt means to the phone: the result shown, the bytes, and what `Provisioning.run` is told.
    static func result(of outcome: Attempt) -> (String, Int, FetchResult) {
        switch outcome {
        case .found(let code, let body): (code, body.count, .found(body))
        case .notFound(let code): (code, 0, .notFound)
        case .refused(let code): (code, 0, .unreachable("the server refused it (\(code))"))
        case .failed(let reason): (reason, 0, .unreachable(reason))
        }
    }

    /// A download (or an upload) with the phone's retries: a failed attempt is made again a second later, up to
    /// ``attempts`` in all; the last attempt's outcome, and how many were made. Never blocks.
    func download(_ url: ProvisioningURL, userAgent: String, method: HTTPMethod = .GET, body: [UInt8] = [],
                  on loop: EventLoop, attempt: Int = 1) -> EventLoopFuture<(Attempt, Int)> {
        once(url, userAgent: userAgent, method: method, body: body, on: loop).flatMap { outcome in
            guard case .failed = outcome, attempt < self.attempts else { return loop.makeSucceededFuture((outcome, attempt)) }
            return loop.scheduleTask(in: .seconds(1)) {}.futureResult.flatMap {
                self.download(url, userAgent: userAgent, method: method, body: body, on: loop, attempt: attempt + 1)
            }
        }
    }

    private func record(_ url: ProvisioningURL, result: String, bytes: Int, started: ContinuousClock.Instant, attempts: Int,
                        method: String) {
        let seconds = (ContinuousClock.now - started).seconds
        recorded.withLock {
            $0.append(Transfer(url: url.description, protocol: url.scheme, method: method, result: result, bytes: bytes,
                               seconds: seconds, attempts: attempts))
        }
    }

    enum Attempt: Equatable {
        case found(String, [UInt8])
        case notFound(String)
        /// An answer that is final but not the file (403, a TFTP access violation): not retried.
        case refused(String)
        /// No usable answer: retried.
        case failed(String)
    }

    private func once(_ url: ProvisioningURL, userAgent: String, method: HTTPMethod, body: [UInt8],
                      on loop: EventLoop) -> EventLoopFuture<Attempt> {
        if method != .GET, !url.scheme.hasPrefix("http") {
            return loop.makeSucceededFuture(.refused("\(url.scheme): the phone uploads over HTTP (custom.upload_method = 0)"))
        }
        switch url.scheme {
        case "http", "https":
            return http(url, userAgent: userAgent, method: method, body: body, on: loop)
        case "tftp":
            return TFTPDownload(url: url).start(on: loop)
        case "ftp":
            // FTP's exchange waits reply by reply: it runs off the event loops.
            let download = FTPDownload(url: url, group: group, timeout: timeout, username: identity.username,
                                       password: identity.password)
            let promise = loop.makePromise(of: Attempt.self)
            Thread { promise.succeed(download.run()) }.start()
            return promise.futureResult
        default:
            return loop.makeSucceededFuture(.refused("\(url.scheme): not supported by the simulated phone"))
        }
    }

    // MARK: HTTP

    private func http(_ url: ProvisioningURL, userAgent: String, method: HTTPMethod, body: [UInt8],
                      on loop: EventLoop) -> EventLoopFuture<Attempt> {
        let (sslContext, timeout) = (sslContext, timeout)
        @Sendable func exchange(_ authorization: String?) -> EventLoopFuture<HTTPExchange.Answer> {
            HTTPExchange(url: url, group: loop, tls: url.scheme == "https" ? sslContext : nil, userAgent: userAgent,
                         authorization: authorization, timeout: timeout, method: method, body: body).start(on: loop)
        }
        let identity = identity
        return exchange(nil).flatMap { answer -> EventLoopFuture<HTTPExchange.Answer> in
            guard let authorization = identity.authorization(answering: answer, method: method, url: url) else {
                return loop.makeSucceededFuture(answer)
            }
            return exchange(authorization)
        }.map(PhoneClient.attempt).flatMapErrorThrowing { error in .failed(PhoneClient.describe(error)) }
    }

    /// What an HTTP answer means to the phone.
    static func attempt(_ answer: HTTPExchange.Answer) -> Attempt {
        switch answer.status {
        case 200...299: .found("\(answer.status)", answer.body)
        case 404: .notFound("404")
        case 500...: .failed("\(answer.status)")
        default: .refused("\(answer.status)")
        }
    }

    /// R5.4: the phone's MAC-local file uploaded to `url` (HTTP PUT, `custom.upload_method = 0`), retried as a
    /// download is; whether the server stored it.
    @discardableResult
    public func upload(_ bytes: [UInt8], to url: ProvisioningURL) -> Bool {
        let started = ContinuousClock.now
        let (outcome, attempt) = (try? download(url, userAgent: identity.userAgent, method: .PUT, body: bytes,
                                                on: group.next()).wait()) ?? (.failed("no answer"), 1)
        let (result, _, _) = PhoneClient.result(of: outcome)
        record(url, result: result, bytes: bytes.count, started: started, attempts: attempt, method: "PUT")
        if case .found = outcome { return true }
        return false
    }

    static func clientNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case is SimulationTimeout: "timeout"
        case let error as NIOConnectionError: error.connectionErrors.first.map { "\($0.error)" }
            .map { $0.contains("refused") ? "connection refused" : $0 } ?? "cannot connect"
        case let error as IOError where error.errnoCode == ECONNREFUSED: "connection refused"
        default: "\(error)"
        }
    }
}

struct SimulationTimeout: Error {}

extension ProvisioningURL {
    /// The request target: the path and query as sent.
    var requestTarget: String { path + (query.map { "?" + $0 } ?? "") }

    /// The port the authority names, or the scheme's default.
    var port: Int {
        var rest = authority[...]
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") { rest = rest[rest.index(after: close)...] }
        if let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]) { return port }
        return ["http": 80, "https": 443, "tftp": 69, "ftp": 21][scheme] ?? 0
    }

    /// The host to connect to, without IPv6 brackets.
    var connectHost: String { host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host }
}
