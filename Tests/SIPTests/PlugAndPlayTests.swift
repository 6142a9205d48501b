import Testing
@testable import SIP

@Suite("Plug-and-Play SUBSCRIBE and NOTIFY (yealink-protocols.md §2)", .timeLimit(.minutes(2)))
struct PlugAndPlayTests {
    static func subscribe(uri: String = "sip:MAC001565f4f9e1@224.0.1.75", event: String? = nil,
                          contact: String? = "<sip:MAC001565f4f9e1@10.1.3.239:5059>") throws -> SIPMessage {
        var message = try SIPMessage(parsing: Array(SIPMessageTests.w52pSubscribe.utf8))
        message.startLine = .request(method: "SUBSCRIBE", uri: uri)
        if let event { message.set("Event", event) }
        if let contact { message.set("Contact", contact) } else { message.headers.removeAll { $0.name == "Contact" } }
        return message
    }

    @Test("the W52P capture: MAC, model, firmware and the Contact to notify")
    func capture() throws {
        let subscription = try PnPSubscription(try Self.subscribe())
        #expect(subscription.mac == "001565f4f9e1")
        #expect(subscription.vendor == "yealink")
        #expect(subscription.model == "W52P")
        #expect(subscription.firmware == "25.81.0.10")
        #expect(subscription.userAgent == "Yealink W52P 25.81.0.10")
        #expect(subscription.notifyURI == "sip:MAC001565f4f9e1@10.1.3.239:5059")
        #expect(subscription.notifyHost == "10.1.3.239")
        #expect(subscription.notifyPort == 5059)
    }

    @Test("MAC forms in the Request-URI, and From when the URI has none", arguments: [
        ("sip:MAC001565f4f9e1@224.0.1.75", "001565f4f9e1"),
        ("sip:MAC%3a001565F4F9E1@224.0.1.75", "001565f4f9e1"),
        ("sip:MAC%3A00:15:65:f4:f9:e1@224.0.1.75", "001565f4f9e1"),
        ("sip:mac001565f4f9e1@224.0.1.75;transport=udp", "001565f4f9e1"),
        ("sip:224.0.1.75", "001565f4f9e1"),  // from the From header
    ])
    func macForms(uri: String, mac: String) throws {
        #expect(try PnPSubscription(try Self.subscribe(uri: uri)).mac == mac)
    }

    @Test("vendor compared without case; other vendors, other events and MAC-less requests are refused")
    func refusals() throws {
        let capital = #"ua-profile;profile-type="device";vendor="Yealink";model="T21D";version="34.72.14.6""#
        #expect(try PnPSubscription(try Self.subscribe(event: capital)).model == "T21D")
        let snom = #"ua-profile;profile-type="device";vendor="snom";model="snom320";version="8.7""#
        #expect(throws: PnPSubscription.Refusal.otherVendor("snom")) {
            try PnPSubscription(try Self.subscribe(event: snom))
        }
        #expect(throws: PnPSubscription.Refusal.notProfileRequest) {
            try PnPSubscription(try Self.subscribe(event: "presence"))
        }
        let application = #"ua-profile;profile-type="application";vendor="yealink""#
        #expect(throws: PnPSubscription.Refusal.notProfileRequest) {
            try PnPSubscription(try Self.subscribe(event: application))
        }
        var noMAC = try Self.subscribe(uri: "sip:phone@224.0.1.75")
        noMAC.set("From", "<sip:phone@224.0.1.75>;tag=1")
        #expect(throws: PnPSubscription.Refusal.noMAC) { try PnPSubscription(noMAC) }
    }

    @Test("model and firmware from the User-Agent when the Event leaves them out")
    func userAgentFallback() throws {
        var request = try Self.subscribe(event: #"ua-profile;profile-type="device";vendor="yealink""#)
        request.set("User-Agent", "Yealink SIP-T46G 28.83.0.50")
        let subscription = try PnPSubscription(request)
        #expect(subscription.model == "T46G")
        #expect(subscription.firmware == "28.83.0.50")
    }

    @Test("without a Contact the NOTIFY goes to the Via sent-by and port")
    func viaFallback() throws {
        let subscription = try PnPSubscription(try Self.subscribe(contact: nil))
        #expect(subscription.notifyURI == "sip:10.1.3.239:5059")
        #expect(subscription.notifyPort == 5059)
    }

    @Test("200 OK and NOTIFY: dialog headers, Expires 0, the URL as body")
    func answer() throws {
        let request = try Self.subscribe()
        let subscription = try PnPSubscription(request)
        let ok = subscription.accepted(request, toTag: "t1", localHost: "192.0.2.1", localPort: 5060)
        #expect(ok.status == 200)
        #expect(ok["Expires"] == "0")
        #expect(ok["To"] == "<sip:MAC001565f4f9e1@224.0.1.75>;tag=t1")
        #expect(ok["Via"] == request["Via"])
        let notify = subscription.notify(for: request, url: "http://192.0.2.1/", localHost: "192.0.2.1",
                                         localPort: 5060, branch: "z9hG4bKn", toTag: "t1")
        let parsed = try SIPMessage(parsing: notify.serialized())
        #expect(parsed.method == "NOTIFY")
        #expect(parsed.requestURI == "sip:MAC001565f4f9e1@10.1.3.239:5059")
        #expect(parsed["From"] == "<sip:MAC001565f4f9e1@224.0.1.75>;tag=t1")
        #expect(parsed["To"] == request["From"])
        #expect(parsed["Call-ID"] == request["Call-ID"])
        #expect(parsed["Event"] == "ua-profile")
        #expect(parsed["Subscription-State"] == "terminated;reason=timeout")
        #expect(parsed["Content-Type"] == "application/url")
        #expect(parsed.body == Array("http://192.0.2.1/".utf8))
        #expect(try SIPVia(parsed["Via"]!).branch == "z9hG4bKn")
    }
}
