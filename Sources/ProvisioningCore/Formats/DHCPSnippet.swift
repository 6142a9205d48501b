/// Configuration for a site's own DHCP server that gives Yealink phones the provisioning URL (R8.1: a custom option
/// 128–254, then option 66, then option 43), matched by their MAC prefixes (`yealink-protocols.md` §4.1) or by the
/// vendor class `yealink` they send in option 60.
///
/// How Yealink phones read option 43 is not publicly documented, so both forms are offered: the URL as the whole
/// option (the default) or as one vendor sub-option.
public struct DHCPSnippet: Sendable, Equatable {
    /// The DHCP servers a snippet is written for.
    public enum Server: String, Sendable, CaseIterable {
        case kea
        case dnsmasq
        case iscDHCPD = "isc-dhcpd"
        case windows
    }

    /// How the server recognizes a Yealink phone.
    public enum Match: String, Sendable, CaseIterable {
        /// By the MAC address's first three octets.
        case oui
        /// By option 60 starting with `yealink`.
        case vendorClass = "vendor-class"
    }

    /// How the URL is carried in option 43.
    public enum Option43: Sendable, Equatable {
        /// The URL is the option's whole value.
        case string
        /// The URL is vendor sub-option N (1–254) inside option 43.
        case subOption(Int)
    }

    /// A snippet that cannot be written, and why.
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    public let url: String
    /// 66, 43, or a custom option 128–254.
    public let option: Int
    public let option43: Option43
    public let match: Match
    public let ouis: [String]
    public let vendorClass = "yealink"

    public init(url: String, option: Int = 66, option43: Option43 = .string, match: Match = .oui,
                ouis: [String] = MACAddress.yealinkOUIs) throws {
        guard !url.isEmpty else { throw Problem(description: "the URL is empty") }
        // Every format quotes the URL; a quote, a backslash or a control character would need escapes that differ
        // between them, and no provisioning URL needs one.
        if let bad = url.unicodeScalars.first(where: { $0 == "\"" || $0 == "'" || $0 == "\\" || $0.value < 0x20 || $0.value == 0x7F }) {
            throw Problem(description: "the URL contains \(bad.escaped(asASCII: true)), which a DHCP configuration cannot carry as written")
        }
        guard url.utf8.count <= 255 else { throw Problem(description: "the URL is \(url.utf8.count) bytes; a DHCP option holds at most 255") }
        guard option == 66 || option == 43 || (128...254).contains(option) else {
            throw Problem(description: "option \(option): use 66, 43, or a custom option from 128 to 254")
        }
        if case .subOption(let code) = option43 {
            guard (1...254).contains(code) else { throw Problem(description: "sub-option \(code): use 1 to 254") }
            guard url.utf8.count <= 253 else { throw Problem(description: "the URL is too long for a sub-option of option 43") }
        }
        self.url = url
        self.option = option
        self.option43 = option43
        self.match = match
        self.ouis = ouis
    }

    /// `string` or `suboption:N`.
    public static func option43(_ text: String) throws -> Option43 {
        if text == "string" { return .string }
        if text.hasPrefix("suboption:"), let code = Int(text.dropFirst("suboption:".count)) { return .subOption(code) }
        throw Problem(description: "--option43 '\(text)': use string or suboption:N")
    }

    /// The bytes option 43 carries.
    var option43Bytes: [UInt8] {
        let bytes = Array(url.utf8)
        switch option43 {
        case .string: return bytes
        case .subOption(let code): return [UInt8(code), UInt8(bytes.count)] + bytes
        }
    }

    var what: String {
        let carrier = switch option {
        case 66: "option 66"
        case 43: if case .subOption(let code) = option43 { "sub-option \(code) of option 43" } else { "option 43" }
        default: "custom option \(option)"
        }
        let by = match == .oui ? "by MAC prefix" : "by vendor class '\(vendorClass)' in option 60"
        return "Yealink phones (matched \(by)) get \(url) in \(carrier)."
    }

    /// The OUIs as bare upper-case hex (`001565`).
    var bareOUIs: [String] {
        ouis.map { $0.replacingOccurrences(of: ":", with: "").uppercased() }
    }

    static func hex(_ bytes: [UInt8], separator: String) -> String {
        bytes.map { Hex.encode([$0]) }.joined(separator: separator)
    }

    /// The configuration text for `server`.
    public func text(for server: Server) -> String {
        switch server {
        case .kea: kea
        case .dnsmasq: dnsmasq
        case .iscDHCPD: iscDHCPD
        case .windows: windows
        }
    }
}

extension MACAddress {
    /// Yealink's MAC prefixes (`yealink-protocols.md` §4.1, as wazo lists them).
    public static let yealinkOUIs = ["00:15:65", "e4:34:d7", "80:5e:c0", "80:5e:0c", "24:9a:d8", "44:db:d2",
                                     "64:4f:56", "ec:1d:a9", "34:97:d7", "b0:61:a9", "c4:fc:22", "f0:16:53"]
}
