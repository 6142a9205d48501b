import Crypto
import _CryptoExtras
import Foundation
import Storage

/// Administrators' passwords: PBKDF2-HMAC-SHA256 with a 16-byte random salt of each account's own. The rounds are
/// stored with each account, so that raising ``rounds`` later leaves old accounts working.
public enum AdminPasswords {
    /// OWASP's figure for PBKDF2-HMAC-SHA256 (2023): 600,000 rounds.
    public static let rounds = 600_000
    public static let scheme = "pbkdf2-sha256"

    /// A new account with this password.
    public static func account(name: String, role: AdminRole, password: String, rounds: Int = rounds) throws -> AdminUser {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return AdminUser(name: name, role: role, scheme: scheme, rounds: rounds, salt: salt,
                         hash: try derive(password, salt: salt, rounds: rounds),
                         created: Date().timeIntervalSince1970)
    }

    /// Whether `password` is the account's, compared in constant time.
    public static func verify(_ password: String, for user: AdminUser) -> Bool {
        guard user.scheme == scheme, let derived = try? derive(password, salt: user.salt, rounds: user.rounds),
              derived.count == user.hash.count
        else { return false }
        return zip(derived, user.hash).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    static func derive(_ password: String, salt: [UInt8], rounds: Int) throws -> [UInt8] {
        let key = try KDF.Insecure.PBKDF2.deriveKey(from: Array(password.utf8), salt: salt, using: .sha256,
                                                    outputByteCount: 32, unsafeUncheckedRounds: rounds)
        return key.withUnsafeBytes { Array($0) }
    }
}
