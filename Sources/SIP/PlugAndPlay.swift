/// A phone's Plug-and-Play SUBSCRIBE (yealink-protocols.md §2.2): who is asking, and where the answer goes.
public struct PnPSubscription: Sendable, Hashable {
    /// The MAC as 12 lower-case hex digits, from the Request-URI (`MAC001565f4f9e1@…`, `MAC%3a…`) or From.
    public var mac: String
    public var vendor: String
    public var model: String
    public var firmware: String
    public var userAgent: String?
    /// Where the NOTIFY goes: the Contact, else the top Via's sent-by (port 5060 when absent).
    public var notifyURI: String
    public var notifyHost: String
    public var notifyPort: Int

    /// Why a SUBSCRIBE is not a PnP request autoprov answers.
    public enum Refusal: Error, Sendable, Hashable {
        /// Not a SUBSCRIBE for `ua-profile` device profiles: answered 489 (RFC 6665 §8.2.1) when unicast.
        case notProfileRequest
        /// Another vendor's phone: left to its own server, no answer.
        case otherVendor(String)
        /// No MAC in the Request-URI or From.
        case noMAC
        /// No usable Contact or Via.
        case noReplyAddress
    }

    public init(_ request: SIPMessage, vendor expectedVendor: String = "yealink") throws(Refusal) {
        guard request.method == "SUBSCRIBE", let eventText = request["Event"] else { throw .notProfileRequest }
        let event = SIPHeaderValue.parameters(eventText)
        guard event.main.lowercased() == "ua-profile", (event.parameters["profile-type"] ?? "device") == "device"
        else { throw .notProfileRequest }
        vendor = event.parameters["vendor"] ?? ""
        guard vendor.lowercased() == expectedVendor.lowercased() else { throw .otherVendor(vendor) }
        userAgent = request["User-Agent"]
        // The Event says which model and firmware; the User-Agent (`Yealink SIP-T46G 28.83.0.50`) when it does not.
        let agentWords = (userAgent ?? "").split(separator: " ")
        let agentModel = agentWords.count >= 3 ? String(agentWords[agentWords.count - 2]) : ""
        model = event.parameters["model"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (agentModel.uppercased().hasPrefix("SIP-") ? String(agentModel.dropFirst(4)) : agentModel)
        firmware = event.parameters["version"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (agentWords.count >= 3 ? String(agentWords[agentWords.count - 1]) : "")

        let fromURI = request["From"].flatMap { try? SIPNameAddress($0) }?.uri
        guard let mac = [request.requestURI, fromURI].lazy.compactMap({ $0.flatMap(PnPSubscription.mac(inURI:)) }).first
        else { throw .noMAC }
        self.mac = mac

        if let contact = request.values("Contact").first.flatMap({ try? SIPNameAddress($0) }),
           let uri = try? SIPURI(contact.uri) {
            notifyURI = contact.uri
            notifyHost = uri.host
            notifyPort = uri.port ?? 5060
        } else if let via = request.values("Via").first.flatMap({ try? SIPVia($0) }) {
            let host = via.host.contains(":") ? "[\(via.host)]" : via.host
            notifyURI = "sip:\(host):\(via.port ?? 5060)"
            notifyHost = via.host
            notifyPort = via.port ?? 5060
        } else {
            throw .noReplyAddress
        }
    }

    /// `sip:MAC001565f4f9e1@…`, `sip:MAC%3a001565F4F9E1@…`, `sip:MAC%3a00:15:65:f4:f9:e1@…` → `001565f4f9e1`.
    static func mac(inURI text: String) -> String? {
        guard let uri = try? SIPURI(text), let user = uri.user, user.uppercased().hasPrefix("MAC") else { return nil }
        var rest = Substring(user.dropFirst(3))
        if rest.lowercased().hasPrefix("%3a") { rest = rest.dropFirst(3) } else if rest.hasPrefix(":") { rest = rest.dropFirst() }
        let digits = rest.replacing("%3a", with: "").replacing("%3A", with: "").filter { $0 != ":" && $0 != "-" }
        guard digits.count == 12, digits.allSatisfy({ $0.isHexDigit && $0.isASCII }) else { return nil }
        return digits.lowercased()
    }
}

extension PnPSubscription {
    /// The NOTIFY that carries the provisioning URL (yealink-protocols.md §2.3, the minimal interoperable form):
    /// in the SUBSCRIBE's dialog, `From` our To (with the tag the 200 OK gave), `To` the phone's From.
    public func notify(for subscribe: SIPMessage, url: String, localHost: String, localPort: Int, branch: String,
                       toTag: String) -> SIPMessage {
        let host = localHost.contains(":") ? "[\(localHost)]" : localHost
        let ourSide = (subscribe["To"] ?? "<\(subscribe.requestURI ?? "sip:autoprov")>")
        let from = (try? SIPNameAddress(ourSide))?.tag == nil ? "\(ourSide);tag=\(toTag)" : ourSide
        return SIPMessage.request("NOTIFY", uri: notifyURI, headers: [
            ("Via", "SIP/2.0/UDP \(host):\(localPort);branch=\(branch)"),
            ("Max-Forwards", "20"),
            ("From", from),
            ("To", subscribe["From"] ?? "<\(notifyURI)>"),
            ("Call-ID", subscribe["Call-ID"] ?? branch),
            ("CSeq", "3 NOTIFY"),
            ("Contact", "<sip:\(host):\(localPort)>"),
            ("Event", "ua-profile"),
            ("Subscription-State", "terminated;reason=timeout"),
            ("Content-Type", "application/url"),
        ], body: Array(url.utf8))
    }

    /// The 200 OK to the SUBSCRIBE: `Expires: 0` (nothing to keep), a To tag, and our Contact.
    public func accepted(_ subscribe: SIPMessage, toTag: String, localHost: String, localPort: Int) -> SIPMessage {
        let host = localHost.contains(":") ? "[\(localHost)]" : localHost
        return subscribe.response(200, "OK", toTag: toTag, headers: [
            ("Contact", "<sip:\(host):\(localPort)>"), ("Expires", "0"),
        ])
    }
}
