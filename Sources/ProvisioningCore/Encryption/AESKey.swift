// Encryption/: Yealink file encryption (R6): keys, AES-ECB files, RSA mode, which key a file takes. No I/O.
/// An AES key as the phone accepts it (R6.1): 16 or 32 characters from `0-9 A-Z a-z` and
/// `# $ % * + , - . : = ? @ [ ] ^ _ { } ~`.
public struct AESKey: Sendable, Hashable {
    /// The punctuation R6.1 allows besides letters and digits.
    public static let allowedSymbols: Set<Character> = Set("#$%*+,-.:=?@[]^_{}~")
    /// The key lengths the phone accepts.
    public static let allowedLengths: Set<Int> = [16, 32]

    /// The key's text; its ASCII bytes are the AES key (R6.3).
    public let text: String

    public init(_ text: String) throws(AESKeyError) {
        if let problem = AESKey.problem(in: text) { throw problem }
        self.text = text
    }

    /// Whether a character may stand in a key.
    public static func isAllowed(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || allowedSymbols.contains(character))
    }

    /// The first problem with a key, or nil for a valid one.
    public static func problem(in text: String) -> AESKeyError? {
        if let offset = text.firstIndex(where: { !isAllowed($0) }) {
            return AESKeyError(key: text, reason: .character(text[offset], offset: text.distance(
                from: text.startIndex, to: offset)))
        }
        if !allowedLengths.contains(text.count) {
            return AESKeyError(key: text, reason: .length(text.count))
        }
        return nil
    }

    /// Every character R6.1 allows, in a fixed order.
    public static let alphabet: [Character] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        + allowedSymbols.sorted()

    /// A new key of `length` characters drawn uniformly from ``alphabet`` (Yealink's own tool drew 62 characters from
    /// a time-seeded `rand()`, which can be brute-forced; `yealink-protocols.md` §1.2).
    public static func generate(length: Int = 16, using generator: inout some RandomNumberGenerator) -> AESKey {
        precondition(allowedLengths.contains(length), "a key has 16 or 32 characters")
        let text = String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
        return try! AESKey(text)  // every character comes from the alphabet, and the length is allowed
    }

    /// A new key from the system's cryptographically secure generator (`getrandom` on Linux).
    public static func generate(length: Int = 16) -> AESKey {
        var generator = SystemRandomNumberGenerator()
        return generate(length: length, using: &generator)
    }

    /// The settings that hold AES keys (R6.2, R8.2), by exact name or by pattern.
    static func holdsKey(_ key: String) -> Bool {
        let names = ["static.auto_provision.aes_key_16.com", "static.auto_provision.aes_key_16.mac",
                     "static.auto_provision.aes_key.com", "static.auto_provision.aes_key.mac"]
        return names.contains(key)
    }
}

/// A key the phone would not accept.
public struct AESKeyError: Error, Sendable, Hashable, CustomStringConvertible {
    public let key: String
    public let reason: Reason

    public enum Reason: Sendable, Hashable {
        case length(Int)
        case character(Character, offset: Int)
    }

    public var description: String {
        switch reason {
        case .length(let count):
            "AES key has \(count) characters; it must have 16 or 32 (R6.1)"
        case .character(let character, let offset):
            "AES key has '\(character)' at position \(offset + 1), which the phone does not accept "
                + "(allowed: 0-9 A-Z a-z # $ % * + , - . : = ? @ [ ] ^ _ { } ~, R6.1)"
        }
    }
}

/// Which key the phone uses for which file (R6.2): the common key for the common CFG file (and boot includes),
/// the MAC-oriented key for `<mac>.cfg` and `<mac>-local.cfg`.
public enum ConfigurationKeySelection {
    /// The settings that hold the key for files of this role, preferred first (`aes_key_16.*`, then `aes_key.*`).
    public static func settingKeys(for role: FileRole) -> [String] {
        switch role {
        case .macConfig, .macLocal:
            ["static.auto_provision.aes_key_16.mac", "static.auto_provision.aes_key.mac"]
        case .commonConfig, .include, .commonBoot, .macBoot:
            ["static.auto_provision.aes_key_16.com", "static.auto_provision.aes_key.com"]
        }
    }

    /// The key the phone would use for a file of this role, from its settings; nil when none is set or valid.
    public static func key(for role: FileRole, settings: [String: String]) -> AESKey? {
        for name in settingKeys(for: role) {
            if let value = settings[name], !value.isEmpty, let key = try? AESKey(value) { return key }
        }
        return nil
    }
}
