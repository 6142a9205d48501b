// Inventory/: the inventory's naming rules and which variables are secret. No I/O.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The names the inventory accepts, and which variables are secret.
public enum InventoryNames {
    /// Variables every template has without anyone setting them; a device or group may not set them.
    public static let builtInVariables: Set<String> = ["mac", "MAC", "model", "label", "server_url"]

    /// A variable name: a letter or `_`, then letters, digits and `_` (a Mustache tag names it as it is).
    public static func isVariableName(_ name: String) -> Bool {
        guard let first = name.utf8.first, isLetter(first) || first == UInt8(ascii: "_") else { return false }
        return name.utf8.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") }
    }

    /// A group name: a letter or digit, then letters, digits, `.`, `_` and `-` (it is also a template's file name,
    /// `groups/<name>.cfg`).
    public static func isGroupName(_ name: String) -> Bool {
        guard let first = name.utf8.first, isLetter(first) || isDigit(first), name.utf8.count <= 64 else { return false }
        return name.utf8.allSatisfy { isLetter($0) || isDigit($0) || [UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-")].contains($0) }
    }

    /// Why a name cannot be a variable a device or group sets; nil when it can.
    public static func variableNameProblem(_ name: String) -> String? {
        if !isVariableName(name) { return "'\(name)' is not a variable name: a letter or '_', then letters, digits and '_'" }
        if builtInVariables.contains(name) { return "'\(name)' is a built-in variable; it cannot be set" }
        return nil
    }

    /// Why a name cannot be a group's; nil when it can.
    public static func groupNameProblem(_ name: String) -> String? {
        isGroupName(name) ? nil
            : "'\(name)' is not a group name: letters, digits, '.', '_' and '-', starting with a letter or digit"
    }

    private static func isLetter(_ byte: UInt8) -> Bool { (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) }
    private static func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }

    /// A new device password: 16 characters from an alphabet without look-alikes (about 89 bits).
    public static func newPassword() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<16).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
    }
}

/// Which variables hold secrets (`[inventory] secret_variables`): shell patterns on the name, any case.
public struct SecretVariables: Sendable, Hashable {
    public static let defaultPatterns = ["*password*", "*secret*", "*pin*"]
    public var patterns: [String]

    public init(patterns: [String] = SecretVariables.defaultPatterns) {
        self.patterns = patterns
    }

    public func isSecret(_ name: String) -> Bool {
        let lower = name.lowercased()
        return patterns.contains { fnmatch($0.lowercased(), lower, 0) == 0 }
    }

    /// What is printed for a variable's value: the value, or `********` for a secret unless `withSecrets`.
    public func shown(_ name: String, _ value: String, withSecrets: Bool) -> String {
        withSecrets || !isSecret(name) ? value : SecretVariables.mask
    }

    public static let mask = "********"
}

/// Whether a file holding a secret goes out whole only to its own device (`[inventory] secrets`).
public enum SecretsMode: String, Sendable, Hashable, CaseIterable {
    /// Whole to a request authenticated as the device; anyone else gets it with the secret lines left out.
    case device
    /// Whole to anyone who asks, as other provisioning servers do.
    case open
}
