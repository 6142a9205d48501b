/// The provisioning server URL as configured (DHCP, PnP, phone flash), with the wildcards of R3.6.
public struct ServerURLTemplate: Sendable, Hashable {
    /// Replaced by `static.auto_provision.url_wildcard.pn` (default: the model's name).
    public static let productNameWildcard = "$PN"
    /// Replaced by the phone's MAC, 12 lower-case hex digits.
    public static let macWildcard = "$MAC"
    /// The setting that gives `$PN` its value.
    public static let productNameKey = "static.auto_provision.url_wildcard.pn"

    /// The URL as configured, wildcards included (`tftp://192.168.1.100/$PN/$MAC.boot`).
    public let text: String

    public init(_ text: String) {
        self.text = text
    }

    /// The URL with `$PN` and `$MAC` replaced (R3.6).
    public func expanded(productName: String, mac: MACAddress) -> String {
        guard text.utf8.contains(UInt8(ascii: "$")) else { return text }
        return text.replacingAll(ServerURLTemplate.productNameWildcard, with: productName)
            .replacingAll(ServerURLTemplate.macWildcard, with: mac.canonical)
    }

    /// Where a phone starts provisioning: a server directory, or one boot file when the URL names a `.boot` file.
    public func start(productName: String, mac: MACAddress) throws(ProvisioningURLError) -> ProvisioningStart {
        let url = try ProvisioningURL(expanded(productName: productName, mac: mac))
        if url.lastSegment.lowercased().hasSuffix(".boot") {
            return .bootFile(url)
        }
        return .directory(url.asDirectory)
    }
}

/// The start of a provisioning (R3.1–R3.3, R3.6).
public enum ProvisioningStart: Sendable, Hashable {
    /// Try `<mac>.boot`, `y000000000000.boot`, then the common and MAC-oriented CFG files in this directory.
    case directory(ProvisioningURL)
    /// Download only this boot file and its includes.
    case bootFile(ProvisioningURL)
}

extension String {
    /// Replaces every occurrence of `target` (no Foundation in the core).
    public func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
