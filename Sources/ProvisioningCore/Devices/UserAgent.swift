/// What a phone says about itself in its HTTP `User-Agent` header (`yealink-protocols.md` §4.1).
///
/// The general form is `Yealink SIP-<model> <firmware> <mac>`; real phones also send a lower-case vendor,
/// two spaces, no `SIP-` (`Yealink CP860 …`), no vendor (`W52P …`), `SIP VP-T49G`, `Yealink-T46G` with a
/// hardware version where the MAC would be, and no MAC at all (SIP User-Agents).
public struct UserAgent: Sendable, Hashable {
    /// The header as received.
    public let raw: String
    /// The model as the phone names it, without vendor and `SIP-` (`T46G`, `T19P_E2`, `VP-T49G`).
    public let reportedModel: String
    /// The catalog's model for ``reportedModel``, when autoprov knows it.
    public let model: PhoneModel?
    /// The firmware version (`28.81.0.110`), when present.
    public let firmware: String?
    /// The MAC address, when the phone sends it.
    public let mac: MACAddress?
    /// What stands where the MAC usually is, when it is not a MAC (old firmware sends a hardware version).
    public let hardwareVersion: String?

    /// Parses a Yealink User-Agent, or throws ``UserAgentError`` when it is not one.
    public init(_ header: String) throws(UserAgentError) {
        raw = header
        var tokens = header.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        var vendorSeen = false
        if let first = tokens.first {
            if first.lowercased() == "yealink" {
                vendorSeen = true
                tokens.removeFirst()
            } else if first.lowercased().hasPrefix("yealink-") {
                vendorSeen = true
                tokens[0] = String(first.dropFirst("yealink-".count))
            }
        }
        let firmwareIndex = tokens.firstIndex(where: UserAgent.isFirmwareVersion)
        let modelTokens = tokens[..<(firmwareIndex ?? tokens.endIndex)]
        var modelText = modelTokens.joined(separator: " ")
        for prefix in ["SIP-", "SIP "] where modelText.uppercased().hasPrefix(prefix) {
            modelText = String(modelText.dropFirst(prefix.count))
        }
        guard !modelText.isEmpty, modelTokens.count <= 3 else { throw UserAgentError(header: header) }
        let model = ModelCatalog.model(named: modelText)
        guard vendorSeen || model != nil else { throw UserAgentError(header: header) }

        reportedModel = modelText
        self.model = model
        firmware = firmwareIndex.map { tokens[$0] }
        let rest = firmwareIndex.map { tokens[($0 + 1)...] } ?? []
        if let candidate = rest.first {
            // A MAC here always has separators; anything else is a hardware version or build tag.
            if candidate.count == 17, let parsed = try? MACAddress(candidate) {
                mac = parsed
                hardwareVersion = nil
            } else {
                mac = nil
                hardwareVersion = candidate
            }
        } else {
            mac = nil
            hardwareVersion = nil
        }
    }

    /// `28.81.0.110`: at least three dot-separated numbers.
    static func isFirmwareVersion(_ token: String) -> Bool {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count >= 3 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }
    }
}

/// A header that is not a Yealink User-Agent.
public struct UserAgentError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The header as received.
    public let header: String

    public var description: String {
        "'\(header)' is not a Yealink User-Agent (expected e.g. 'Yealink SIP-T46G 28.81.0.110 00:15:65:74:b1:50')"
    }
}
