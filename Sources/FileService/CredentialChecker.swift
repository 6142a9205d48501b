import Crypto
import Foundation
import ProvisioningCore
import Synchronization

/// Credentials a request carries.
public enum Credentials: Sendable, Hashable {
    /// HTTP Basic, FTP USER/PASS.
    case password(username: String, password: String)
    /// HTTP Digest (RFC 7616), with the request method.
    case digest(DigestResponse)
}

/// Checks credentials for protected directories (S5) and slows down repeated failures from one address.
final class CredentialChecker: Sendable {
    enum Verdict {
        case granted
        case refused(String)
        case challenge(delay: Duration, stale: Bool)
    }

    let directories: [DirectoryAccount]
    private let secret = SymmetricKey(size: .bits256)
    private let failures = FailedLogins()
    /// The highest nonce count accepted on each nonce still in its lifetime (RFC 7616 §3.4: no replays).
    private let nonceCounts = Mutex<[String: (count: UInt64, firstSeen: Double)]>([:])
    /// How long a digest nonce is good for.
    static let nonceLifetime: Double = 300

    /// Where slowed-down failures are counted (`auth-delayed` in `/metrics`).
    private let metrics: ServerMetrics?

    init(directories: [DirectoryAccount], metrics: ServerMetrics? = nil) {
        self.metrics = metrics
        // The most specific directory first.
        self.directories = directories.sorted { $0.path.count > $1.path.count }
    }

    func directory(containing path: String) -> DirectoryAccount? {
        directories.first { $0.contains(path) }
    }

    func check(_ request: FileRequest, for account: DirectoryAccount) -> Verdict {
        guard let credentials = request.credentials else {
            if !request.fileProtocol.carriesCredentials {
                return .refused("directory '\(account.path)' needs credentials, which TFTP cannot carry")
            }
            return .challenge(delay: .zero, stale: false)
        }
        var stale = false
        let valid: Bool
        switch credentials {
        case .password(let username, let password) where request.fileProtocol.checksCredentialsAtLogin:
            // An FTP session's login was checked when it logged in: another valid account is not a guess, so it is
            // refused without counting as a failure (and without slowing that user down).
            guard constantTimeEqual(username, account.username), constantTimeEqual(password, account.password) else {
                return .refused("directory '\(account.path)' needs its own account")
            }
            valid = true
        case .password(let username, let password):
            valid = constantTimeEqual(username, account.username) && constantTimeEqual(password, account.password)
        case .digest(let digest) where !DigestResponse.uri(digest.uri, matches: request.path):
            // RFC 7616 §3.4.6: the response must be for this request's target, not replayed from another.
            valid = false
        case .digest(let digest):
            switch nonceState(digest.nonce) {
            case .valid where verify(digest, account: account):
                // A count already seen on this nonce is a replayed header: the client is asked to start again with a
                // fresh nonce (stale), which an honest client does without asking its user.
                guard firstUse(of: digest, in: request) else { return .challenge(delay: .zero, stale: true) }
                valid = true
            case .valid: valid = false
            case .expired:
                stale = verify(digest, account: account)
                valid = false
            case .invalid: valid = false
            }
        }
        if valid {
            forgetFailures(request.client)
            return .granted
        }
        if stale { return .challenge(delay: .zero, stale: true) }
        return .challenge(delay: failed(request.client), stale: false)
    }

    /// Counts a failure and returns how long to wait before answering (``FailedLogins``).
    func failed(_ client: String, now: ContinuousClock.Instant = .now) -> Duration {
        let delay = failures.failed(client, now: now)
        if delay > .zero { metrics?.event("auth-delayed") }
        return delay
    }

    /// A success from this address: earlier failures no longer slow it down.
    func forgetFailures(_ client: String) {
        failures.forget(client)
    }

    // MARK: Digest (RFC 7616)

    /// `WWW-Authenticate` values for a realm: Digest SHA-256, Digest MD5, Basic.
    func challenges(realm: String, stale: Bool) -> [String] {
        let nonce = makeNonce()
        let quotedRealm = realm.filter { $0 != "\r" && $0 != "\n" }.replacingOccurrences(of: "\"", with: "\\\"")
        return ["SHA-256", "MD5"].map { algorithm in
            "Digest realm=\"\(quotedRealm)\", qop=\"auth\", algorithm=\(algorithm), nonce=\"\(nonce)\""
                + (stale ? ", stale=true" : "")
        } + ["Basic realm=\"\(quotedRealm)\", charset=\"UTF-8\""]
    }

    /// `<time>-<random>-<MAC>`: its age is known without a table, and two challenges never share a nonce (whose
    /// counts are tracked against replays).
    private func makeNonce() -> String {
        let issued = String(Int(Date().timeIntervalSince1970)) + "-" + Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) })
        return issued + "-" + Hex.encode(HMAC<SHA256>.authenticationCode(for: Data(issued.utf8), using: secret))
    }

    private enum NonceState { case valid, expired, invalid }

    private func nonceState(_ nonce: String) -> NonceState {
        guard let macStart = nonce.lastIndex(of: "-") else { return .invalid }
        let issued = nonce[..<macStart]
        guard let stamp = issued.split(separator: "-").first.flatMap({ Double($0) }),
              constantTimeEqual(String(nonce[nonce.index(after: macStart)...]),
                                Hex.encode(HMAC<SHA256>.authenticationCode(for: Data(issued.utf8), using: secret)))
        else { return .invalid }
        return Date().timeIntervalSince1970 - stamp > CredentialChecker.nonceLifetime ? .expired : .valid
    }

    /// Whether this nonce count is higher than any accepted before on its nonce (and records it). Without `qop`
    /// there is no count, and a nonce is good for one request.
    private func firstUse(of digest: DigestResponse, in request: FileRequest) -> Bool {
        guard !request.nonceCountTaken.value.load(ordering: .acquiring) else { return true }
        let count = digest.qop == nil ? 0 : digest.nonceCount.flatMap { UInt64($0, radix: 16) }
        guard let count else { return false }
        let now = Date().timeIntervalSince1970
        return nonceCounts.withLock { table in
            if table.count > 100_000 {
                table = table.filter { now - $0.value.firstSeen <= CredentialChecker.nonceLifetime }
            }
            if let last = table[digest.nonce], count <= last.count { return false }
            table[digest.nonce] = (count, table[digest.nonce]?.firstSeen ?? now)
            request.nonceCountTaken.value.store(true, ordering: .releasing)
            return true
        }
    }

    private func verify(_ digest: DigestResponse, account: DirectoryAccount) -> Bool {
        guard constantTimeEqual(digest.username, account.username), digest.realm == account.path,
              let expected = digest.expectedResponse(password: account.password)
        else { return false }
        return constantTimeEqual(expected, digest.response.lowercased())
    }
}


/// Compares without an early exit, so timing does not reveal how much matched.
func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
    let a = Array(lhs.utf8), b = Array(rhs.utf8)
    var difference = UInt8(a.count == b.count ? 0 : 1)
    for index in 0..<max(a.count, b.count) {
        difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
    }
    return difference == 0
}
