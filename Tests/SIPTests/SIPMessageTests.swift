import Testing
@testable import SIP

@Suite("SIP messages (RFC 3261 §7, §18.3, §20, §25)", .timeLimit(.minutes(2)))
struct SIPMessageTests {
    /// A Yealink W52P's PnP SUBSCRIBE, as captured (yealink-protocols.md §2.2).
    static let w52pSubscribe = """
        SUBSCRIBE sip:MAC001565f4f9e1@224.0.1.75 SIP/2.0\r
        Via: SIP/2.0/UDP 10.1.3.239:5059;branch=z9hG4bK1536537630\r
        From: <sip:MAC001565f4f9e1@224.0.1.75>;tag=1536537630\r
        To: <sip:MAC001565f4f9e1@224.0.1.75>\r
        Call-ID: 1536537630@10.1.3.239\r
        CSeq: 1 SUBSCRIBE\r
        Contact: <sip:MAC001565f4f9e1@10.1.3.239:5059>\r
        Max-Forwards: 70\r
        User-Agent: Yealink W52P 25.81.0.10\r
        Expires: 0\r
        Event: ua-profile;profile-type="device";vendor="yealink";model="W52P";version="25.81.0.10"\r
        Accept: application/url\r
        Content-Length: 0\r
        \r

        """

    @Test("a real Yealink PnP SUBSCRIBE parses into its parts")
    func yealinkSubscribe() throws {
        let message = try SIPMessage(parsing: Array(Self.w52pSubscribe.utf8))
        #expect(message.method == "SUBSCRIBE")
        #expect(message.requestURI == "sip:MAC001565f4f9e1@224.0.1.75")
        let uri = try SIPURI(message.requestURI!)
        #expect(uri.user == "MAC001565f4f9e1")
        #expect(uri.host == "224.0.1.75")
        let via = try SIPVia(message["via"]!)
        #expect(via.transport == "UDP")
        #expect(via.host == "10.1.3.239")
        #expect(via.port == 5059)
        #expect(via.branch == "z9hG4bK1536537630")
        #expect(try SIPNameAddress(message["From"]!).tag == "1536537630")
        #expect(try SIPNameAddress(message["To"]!).tag == nil)
        #expect(try SIPCSeq(message["CSeq"]!) == SIPCSeq(number: 1, method: "SUBSCRIBE"))
        let contact = try SIPURI(try SIPNameAddress(message["Contact"]!).uri)
        #expect(contact.port == 5059)
        let event = SIPHeaderValue.parameters(message["Event"]!)
        #expect(event.main == "ua-profile")
        #expect(event.parameters == ["profile-type": "device", "vendor": "yealink", "model": "W52P",
                                     "version": "25.81.0.10"])
        #expect(message.body.isEmpty)
    }

    @Test("compact header names, LF line ends, folded lines and a body cut to Content-Length")
    func compactAndFolded() throws {
        let text = """
            NOTIFY sip:100@192.0.2.7:5062;ob SIP/2.0
            v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKabc;rport
            f: "Provisioning, Inc." <sip:autoprov@192.0.2.1>;tag=x1
            t: sip:100@192.0.2.7
            i: 42@192.0.2.1
            CSeq: 10 NOTIFY
            o: check-sync;
             reboot=true
            c: application/url
            l: 5

            hello-and-more
            """
        let message = try SIPMessage(parsing: Array(text.utf8))
        #expect(message["Via"] == "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKabc;rport")
        #expect(message["Event"] == "check-sync; reboot=true")
        #expect(SIPHeaderValue.parameters(message["Event"]!).parameters["reboot"] == "true")
        #expect(message["Content-Type"] == "application/url")
        #expect(message.body == Array("hello".utf8))
        let from = try SIPNameAddress(message["From"]!)
        #expect(from.displayName == "Provisioning, Inc.")
        #expect(from.uri == "sip:autoprov@192.0.2.1")
        // Without angle brackets, the parameters are the header's.
        let to = try SIPNameAddress(message["To"]!)
        #expect(to.uri == "sip:100@192.0.2.7")
        #expect(try SIPURI("sip:100@192.0.2.7:5062;ob").parameters == ["ob": ""])
        #expect(try SIPVia(message["Via"]!).parameters["rport"] == "")
    }

    @Test("several values: on one line split at commas outside quotes and brackets, and over several lines")
    func multipleValues() throws {
        let text = """
            SIP/2.0 200 OK\r
            Via: SIP/2.0/UDP a.example;branch=z9hG4bK1, SIP/2.0/UDP b.example:5070;branch=z9hG4bK2\r
            Via: SIP/2.0/UDP [2001:db8::9]:5080;branch=z9hG4bK3\r
            From: <sip:a@x>;tag=1\r
            To: <sip:b@y>;tag=2\r
            Call-ID: c\r
            CSeq: 7 NOTIFY\r
            Contact: "Doe, John" <sip:j@x,y>;q=0.5, <sip:k@z>\r
            \r

            """
        let message = try SIPMessage(parsing: Array(text.utf8))
        #expect(message.status == 200)
        let vias = try message.values("Via").map { try SIPVia($0) }
        #expect(vias.map(\.host) == ["a.example", "b.example", "2001:db8::9"])
        #expect(vias.map(\.port) == [nil, 5070, 5080])
        let contacts = message.values("Contact")
        #expect(contacts == ["\"Doe, John\" <sip:j@x,y>;q=0.5", "<sip:k@z>"])
        #expect(try SIPNameAddress(contacts[0]).parameters["q"] == "0.5")
    }

    @Test("serialized messages parse back to themselves, with a Content-Length that fits the body")
    func roundTrip() throws {
        var message = SIPMessage.request("NOTIFY", uri: "sip:10.1.3.239:5059", headers: [
            ("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx"), ("Max-Forwards", "20"),
            ("From", "<sip:MAC001565f4f9e1@224.0.1.75>;tag=s1"), ("To", "<sip:MAC001565f4f9e1@224.0.1.75>;tag=1536537630"),
            ("Call-ID", "1536537630@10.1.3.239"), ("CSeq", "3 NOTIFY"), ("Event", "ua-profile"),
            ("Subscription-State", "terminated;reason=timeout"), ("Content-Type", "application/url"),
            ("Content-Length", "999"),
        ], body: Array("http://192.0.2.1:8080/".utf8))
        let wire = message.serialized()
        let text = String(decoding: wire, as: UTF8.self)
        #expect(text.hasPrefix("NOTIFY sip:10.1.3.239:5059 SIP/2.0\r\n"))
        #expect(text.contains("\r\nContent-Length: 22\r\n\r\nhttp://192.0.2.1:8080/"))
        #expect(!text.contains("999"))
        let parsed = try SIPMessage(parsing: wire)
        message.headers.removeAll { $0.name == "Content-Length" }
        message.add("Content-Length", "22")
        #expect(parsed == message)
    }

    @Test("a response copies Via, From, To, Call-ID and CSeq, and tags the To once")
    func response() throws {
        let subscribe = try SIPMessage(parsing: Array(Self.w52pSubscribe.utf8))
        let ok = subscribe.response(200, "OK", toTag: "t9", headers: [("Expires", "0")])
        #expect(ok.status == 200)
        #expect(ok.headers.map(\.name) == ["Via", "From", "To", "Call-ID", "CSeq", "Expires"])
        #expect(try SIPNameAddress(ok["To"]!).tag == "t9")
        let again = ok.response(200, "OK", toTag: "other")
        #expect(try SIPNameAddress(again["To"]!).tag == "t9")
        let parsed = try SIPMessage(parsing: ok.serialized())
        #expect(parsed["CSeq"] == "1 SUBSCRIBE")
    }

    static let hostile: [(String, SIPParseError.Code)] = [
        ("", .empty),
        ("\r\n\r\n", .empty),
        ("GARBAGE", .badStartLine),
        ("\u{0}\u{1}\u{2}\u{ff}", .badStartLine),
        ("SUBSCRIBE sip:x@y SIP/3.0\r\n\r\n", .badStartLine),
        ("SUBSCRIBE nouri SIP/2.0\r\n\r\n", .badStartLine),
        ("SIP/2.0 999 Nope\r\n\r\n", .badStartLine),
        ("SIP/2.0 abc OK\r\n\r\n", .badStartLine),
        ("OPTIONS sip:x@y SIP/2.0\r\nVia SIP/2.0/UDP h\r\n\r\n", .badHeader),
        ("OPTIONS sip:x@y SIP/2.0\r\nV ia: x\r\n\r\n", .badHeader),
        ("OPTIONS sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n", .missingHeader),
        ("OPTIONS sip:x@y SIP/2.0\r\nVia: v\r\nFrom: <sip:a@b>\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS",
         .unterminatedHead),
        ("OPTIONS sip:x@y SIP/2.0\r\nVia: v\r\nFrom: <sip:a@b>\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\n"
            + "Content-Length: 10\r\n\r\nshort", .truncatedBody),
        ("OPTIONS sip:x@y SIP/2.0\r\nVia: v\r\nFrom: <sip:a@b>\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\n"
            + "Content-Length: -1\r\n\r\n", .badContentLength),
        ("OPTIONS sip:x@y SIP/2.0\r\nVia: v\r\nFrom: <sip:a@b>\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\n"
            + "l: 99999999999999999999999\r\n\r\n", .badContentLength),
    ]

    @Test("garbage, truncated and malformed datagrams are errors with a code and an offset", arguments: hostile)
    func hostileDatagrams(text: String, code: SIPParseError.Code) {
        #expect(throws: SIPParseError.self) { try SIPMessage(parsing: Array(text.utf8)) }
        do {
            _ = try SIPMessage(parsing: Array(text.utf8))
        } catch {
            #expect(error.code == code)
        }
    }

    @Test("an oversized datagram is refused before it is read")
    func oversized() {
        let big = [UInt8](repeating: UInt8(ascii: "a"), count: SIPMessage.maximumDatagram + 1)
        #expect(throws: SIPParseError(code: .tooLarge, offset: SIPMessage.maximumDatagram,
                                      detail: "\(big.count) bytes")) { try SIPMessage(parsing: big) }
    }

    @Test("every truncation of a real message is parsed or refused, never a crash")
    func truncations() {
        let bytes = Array(Self.w52pSubscribe.utf8)
        var parsed = 0
        for length in 0...bytes.count {
            if (try? SIPMessage(parsing: bytes.prefix(length))) != nil { parsed += 1 }
        }
        // Every cut loses the blank line that ends the headers: only the whole message parses.
        #expect(parsed == 1)
    }

    @Test("thousands of corrupted copies of a real message: each parsed or refused, never a crash")
    func corrupted() {
        var generator = Xorshift(seed: 7)
        let original = Array(Self.w52pSubscribe.utf8)
        var refused = 0
        for _ in 0..<3_000 {
            var bytes = original
            for _ in 0...Int(generator.next() % 8) {
                let index = Int(generator.next() % UInt64(bytes.count))
                bytes[index] = UInt8(truncatingIfNeeded: generator.next())
            }
            do {
                let message = try SIPMessage(parsing: bytes)
                _ = message.values("Via").map { try? SIPVia($0) }
                _ = message["From"].map { try? SIPNameAddress($0) }
                _ = message.requestURI.map { try? SIPURI($0) }
                _ = SIPTransactionKey(request: message)
            } catch {
                refused += 1
            }
        }
        #expect(refused > 0 && refused < 3_000)
    }

    @Test("header values that are not what they claim are errors, not crashes")
    func badValues() {
        #expect(throws: SIPParseError.self) { try SIPVia("SIP/2.0 host") }
        #expect(throws: SIPParseError.self) { try SIPVia("SIP/2.0/UDP host:99999") }
        #expect(throws: SIPParseError.self) { try SIPVia("SIP/2.0/UDP [::1") }
        #expect(throws: SIPParseError.self) { try SIPCSeq("one NOTIFY") }
        #expect(throws: SIPParseError.self) { try SIPCSeq("1") }
        #expect(throws: SIPParseError.self) { try SIPNameAddress("\"x\" <sip:a@b") }
        #expect(throws: SIPParseError.self) { try SIPNameAddress("nobody") }
        #expect(throws: SIPParseError.self) { try SIPURI("http://example.com/") }
        #expect(throws: SIPParseError.self) { try SIPURI("sip:user@") }
        #expect(SIPHeaderValue.unquoted("\"a \\\"b\\\"\"") == "a \"b\"")
    }
}

/// A small deterministic generator for corrupting test input (xorshift64*).
struct Xorshift {
    var state: UInt64

    /// Prints the seed, so that a failure on random input can be repeated.
    init(seed: UInt64, function: String = #function) {
        state = seed | 1
        print("\(function): random input from seed \(seed)")
    }

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}
