import Foundation
import Storage
import Synchronization

/// A signed-in administrator in one browser: who, with which role, and the token every form of theirs must carry.
struct ConsoleSession: Sendable {
    let id: String
    let user: String
    let role: AdminRole
    /// The CSRF token: a hidden field of every form this session is shown, checked on every post.
    let csrf: String
    var lastUsed: Double
}

/// The console's sessions, in memory: a restart signs everyone out, which an admin console can afford. A session
/// idle for ``idleLimit`` ends; there are at most ``maximum`` (the oldest goes first), so no client can fill memory.
final class ConsoleSessions: Sendable {
    static let idleLimit: Double = 8 * 3600
    static let maximum = 10_000
    /// The cookie that names a session, and the one that carries the login form's token before there is a session.
    static let cookie = "autoprov_session"
    static let loginCookie = "autoprov_login"

    private let sessions = Mutex<[String: ConsoleSession]>([:])

    /// A new session for `user`.
    func start(user: String, role: AdminRole, now: Double = Date().timeIntervalSince1970) -> ConsoleSession {
        let session = ConsoleSession(id: ConsoleSessions.randomToken(), user: user, role: role,
                                     csrf: ConsoleSessions.randomToken(), lastUsed: now)
        sessions.withLock { sessions in
            sessions = sessions.filter { now - $0.value.lastUsed < ConsoleSessions.idleLimit }
            if sessions.count >= ConsoleSessions.maximum,
               let oldest = sessions.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                sessions[oldest.key] = nil
            }
            sessions[session.id] = session
        }
        return session
    }

    /// The live session the cookie names, its idle time reset; nil when unknown or ended.
    func session(_ id: String, now: Double = Date().timeIntervalSince1970) -> ConsoleSession? {
        sessions.withLock { sessions in
            guard var session = sessions[id] else { return nil }
            guard now - session.lastUsed < ConsoleSessions.idleLimit else {
                sessions[id] = nil
                return nil
            }
            session.lastUsed = now
            sessions[id] = session
            return session
        }
    }

    func end(_ id: String) { _ = sessions.withLock { $0.removeValue(forKey: id) } }

    /// Ends every session of an account (removed, or its role changed).
    func end(user: String) { sessions.withLock { $0 = $0.filter { $0.value.user != user } } }

    /// 256 random bits, base64url: a cookie-safe value no one can guess.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Whether two tokens are equal, in time that does not depend on where they differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
