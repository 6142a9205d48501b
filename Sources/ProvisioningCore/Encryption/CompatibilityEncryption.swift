import Crypto
import _CryptoExtras

/// Yealink's "compatibility mode" file encryption (R6.3, `yealink-protocols.md` §1.2).
///
/// AES-ECB with the key's ASCII bytes as the AES key (16 characters: AES-128; 32: AES-256); the encrypted file
/// is raw binary under the original name. `<name>_Security.enc` holds the file key encrypted under the key
/// built into every phone.
public enum CompatibilityEncryption {
    /// The key built into the phones and Yealink's tool, which wraps file keys in `_Security.enc` files.
    public static let builtInKey = try! AESKey("EKs35XacP6eybA25")
    static let blockSize = 16

    /// Encrypts a file, padding it with spaces to whole blocks as Yealink's tool does (R6.3, decision).
    public static func encrypt(_ plaintext: [UInt8], key: AESKey) -> [UInt8] {
        var blocks = plaintext
        let remainder = blocks.count % blockSize
        if remainder != 0 { blocks += Array(repeating: 0x20, count: blockSize - remainder) }
        permute(&blocks, key: key, inverse: false)
        return blocks
    }

    /// Decrypts a file, block by block, padding included.
    public static func decrypt(_ ciphertext: [UInt8], key: AESKey) throws(EncryptionError) -> [UInt8] {
        guard !ciphertext.isEmpty, ciphertext.count % blockSize == 0 else {
            throw .notWholeBlocks(byteCount: ciphertext.count)
        }
        var blocks = ciphertext
        permute(&blocks, key: key, inverse: true)
        return blocks
    }

    /// The plaintext without its padding: PKCS#7 when the last block carries it, else trailing spaces and NULs.
    public static func removingPadding(_ plaintext: [UInt8]) -> [UInt8] {
        if let last = plaintext.last, (1...UInt8(blockSize)).contains(last), plaintext.count >= Int(last),
           plaintext.suffix(Int(last)).allSatisfy({ $0 == last }) {
            return Array(plaintext.dropLast(Int(last)))
        }
        var end = plaintext.endIndex
        while end > plaintext.startIndex, plaintext[end - 1] == 0x20 || plaintext[end - 1] == 0x00 { end -= 1 }
        return Array(plaintext[..<end])
    }

    /// Whether bytes begin as text: printable characters, tabs and line breaks, well-formed UTF-8. Every
    /// configuration file does (`#!version:` CFG and boot files, the old `[ account ]` files, XML); AES output or a
    /// wrong key's garbage does not (64 random bytes pass with odds far below one in a billion).
    public static func looksPlain(_ bytes: [UInt8]) -> Bool {
        var text = Array(bytes.prefix(64))
        if text.starts(with: [0xEF, 0xBB, 0xBF]) { text.removeFirst(3) }  // a UTF-8 byte-order mark
        guard !text.isEmpty,
              text.allSatisfy({ $0 == 0x09 || $0 == 0x0A || $0 == 0x0D || (0x20..<0x7F).contains($0) || $0 >= 0x80 })
        else { return false }
        // The cut at 64 bytes may split a character: up to three trailing bytes may be dropped to decode.
        return (0...min(3, text.count - 1)).contains { String(validating: text.dropLast($0), as: UTF8.self) != nil }
    }

    /// Decrypts a whole file and removes its padding, checking that the result is a plain file: a wrong key (or a
    /// file that was never encrypted) is an error, not garbage.
    public static func decryptFile(_ bytes: [UInt8], key: AESKey) throws(EncryptionError) -> [UInt8] {
        if looksPlain(bytes) { throw .notEncrypted }
        let plaintext = removingPadding(try decrypt(bytes, key: key))
        guard looksPlain(plaintext) else { throw .wrongKey }
        return plaintext
    }

    /// The contents of `<name>_Security.enc`: the file key encrypted under ``builtInKey``, no padding.
    public static func securityFile(for key: AESKey) -> [UInt8] {
        var bytes = Array(key.text.utf8)
        permute(&bytes, key: builtInKey, inverse: false)
        return bytes
    }

    /// The file key held in a `<name>_Security.enc` file.
    public static func key(fromSecurityFile bytes: [UInt8]) throws(EncryptionError) -> AESKey {
        guard bytes.count == 16 || bytes.count == 32 else { throw .notWholeBlocks(byteCount: bytes.count) }
        var plain = bytes
        permute(&plain, key: builtInKey, inverse: true)
        guard let text = String(validating: plain, as: UTF8.self), let key = try? AESKey(text) else {
            throw .wrongKey
        }
        return key
    }

    private static func permute(_ bytes: inout [UInt8], key: AESKey, inverse: Bool) {
        let symmetric = SymmetricKey(data: Array(key.text.utf8))
        for start in stride(from: 0, to: bytes.count, by: blockSize) {
            // A 16- or 32-byte key and a 16-byte block are all AES needs; nothing else can fail here.
            if inverse {
                try! AES.inversePermute(&bytes[start..<(start + blockSize)], key: symmetric)
            } else {
                try! AES.permute(&bytes[start..<(start + blockSize)], key: symmetric)
            }
        }
    }
}

/// Why a file cannot be decrypted.
public enum EncryptionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The length is not a whole number of 16-byte blocks: truncated, or not encrypted.
    case notWholeBlocks(byteCount: Int)
    /// The key does not decrypt the data to anything a phone would accept.
    case wrongKey
    /// The file is already plain text.
    case notEncrypted

    public var description: String {
        switch self {
        case .notWholeBlocks(let count):
            "\(count) bytes is not a whole number of 16-byte AES blocks (truncated, or not encrypted)"
        case .wrongKey:
            "the key does not decrypt this data (wrong key)"
        case .notEncrypted:
            "the file is not encrypted (it is already plain text)"
        }
    }
}
