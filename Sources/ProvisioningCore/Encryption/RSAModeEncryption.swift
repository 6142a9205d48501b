import Crypto
import _CryptoExtras
import Foundation

/// Yealink's RSA-mode configuration files (`yealink-protocols.md` §1.3): a text file that carries its AES key
/// encrypted to the phone's RSA public key (PKCS#1 v1.5), and the configuration AES-ECB encrypted with that key
/// (PKCS#7 padding), both base64:
///
/// ```
/// #!encrypt:1.0.0.0
/// #!key_signatue:RSA_256
/// #!conf_encryption:AES_256
/// #!key_ciphertext:<base64>
/// #!---BEGIN CONFIG DATA---
/// <base64>
/// #!---END CONFIG DATA---
/// ```
///
/// PKCS#1 v1.5 padding is random, so the same file encrypts differently each time.
public enum RSAModeEncryption {
    static let header = "#!encrypt:1.0.0.0"

    /// Whether bytes are an RSA-mode file.
    public static func isEncrypted(_ bytes: [UInt8]) -> Bool {
        bytes.starts(with: Array(header.utf8))
    }

    public static func encrypt(_ plaintext: [UInt8], key: AESKey, publicKeyPEM: String) throws(RSAModeError) -> [UInt8] {
        let publicKey: _RSA.Encryption.PublicKey
        do {
            publicKey = try _RSA.Encryption.PublicKey(unsafePEMRepresentation: publicKeyPEM)
        } catch {
            throw .badKey("not an RSA public key in PEM (\(error))")
        }
        let wrapped: Data
        do {
            wrapped = try publicKey.encrypt(Data(key.text.utf8), padding: ._WEAK_AND_INSECURE_PKCS_V1_5)
        } catch {
            throw .badKey("the RSA key cannot encrypt the AES key (\(error))")
        }
        let pad = 16 - plaintext.count % 16
        let data = CompatibilityEncryption.encrypt(plaintext + Array(repeating: UInt8(pad), count: pad), key: key)
        let text = """
            \(header)
            #!key_signatue:RSA_256
            #!conf_encryption:\(key.text.count == 32 ? "AES_256" : "AES_128")
            #!key_ciphertext:\(wrapped.base64EncodedString())
            #!---BEGIN CONFIG DATA---
            \(Data(data).base64EncodedString())
            #!---END CONFIG DATA---

            """
        return Array(text.utf8)
    }

    public static func decrypt(_ file: [UInt8], privateKeyPEM: String) throws(RSAModeError) -> [UInt8] {
        guard isEncrypted(file) else { throw .notRSAMode }
        var fields: [String: String] = [:]
        var data = ""
        var inData = false
        for line in String(decoding: file, as: UTF8.self).split(whereSeparator: \.isNewline) {
            if line == "#!---BEGIN CONFIG DATA---" {
                inData = true
            } else if line == "#!---END CONFIG DATA---" {
                inData = false
            } else if inData {
                data += line.trimmingCharacters(in: .whitespaces)
            } else if line.hasPrefix("#!"), let colon = line.firstIndex(of: ":") {
                fields[String(line[line.index(line.startIndex, offsetBy: 2)..<colon])] = String(line[line.index(after: colon)...])
            }
        }
        guard let wrappedText = fields["key_ciphertext"], let wrapped = Data(base64Encoded: wrappedText),
              let ciphertext = Data(base64Encoded: data)
        else { throw .malformed("no key_ciphertext or config data in base64") }
        let privateKey: _RSA.Encryption.PrivateKey
        do {
            privateKey = try _RSA.Encryption.PrivateKey(unsafePEMRepresentation: privateKeyPEM)
        } catch {
            throw .badKey("not an RSA private key in PEM (\(error))")
        }
        let keyText: Data
        do {
            keyText = try privateKey.decrypt(wrapped, padding: ._WEAK_AND_INSECURE_PKCS_V1_5)
        } catch {
            throw .wrongKey
        }
        guard let text = String(data: keyText, encoding: .utf8), let key = try? AESKey(text) else { throw .wrongKey }
        do {
            return try CompatibilityEncryption.decryptFile(Array(ciphertext), key: key)
        } catch {
            throw .malformed("\(error)")
        }
    }
}

/// Why an RSA-mode file cannot be written or read.
public enum RSAModeError: Error, Sendable, Hashable, CustomStringConvertible {
    case badKey(String)
    case wrongKey
    case notRSAMode
    case malformed(String)

    public var description: String {
        switch self {
        case .badKey(let reason): reason
        case .wrongKey: "the RSA private key does not decrypt this file's AES key (wrong key)"
        case .notRSAMode: "not an RSA-mode file (it does not start with #!encrypt:1.0.0.0)"
        case .malformed(let reason): "malformed RSA-mode file: \(reason)"
        }
    }
}
