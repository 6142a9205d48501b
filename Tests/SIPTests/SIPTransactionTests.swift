import Testing
@testable import SIP

/// Runs a transaction's actions on a clock of its own: timers fire in time order, sends are recorded with the time.
struct VirtualDriver {
    var now = Duration.zero
    var timers: [SIPTimer: Duration] = [:]
    var sent: [Duration] = []
    var delivered: [Int] = []
    var timedOut = false
    var terminatedAt: Duration?

    mutating func apply(_ actions: [SIPTransactionAction]) {
        for action in actions {
            switch action {
            case .send: sent.append(now)
            case .schedule(let timer, let after): timers[timer] = now + after
            case .cancel(let timer): timers[timer] = nil
            case .deliver(let response): delivered.append(response.status ?? 0)
            case .timedOut: timedOut = true
            case .terminated: terminatedAt = now
            }
        }
    }

    /// Fires the earliest timer due by `limit`; false when there is none.
    mutating func step(until limit: Duration, _ fire: (SIPTimer) -> [SIPTransactionAction]) -> Bool {
        guard let (timer, deadline) = timers.min(by: { $0.value < $1.value }), deadline <= limit else { return false }
        now = deadline
        timers[timer] = nil
        apply(fire(timer))
        return true
    }
}

@Suite("SIP non-INVITE transactions over UDP (RFC 3261 §17.1.2, §17.2.2)", .timeLimit(.minutes(2)))
struct SIPTransactionTests {
    static let notify = SIPMessage.request("NOTIFY", uri: "sip:100@192.0.2.7", headers: [
        ("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKn1"), ("From", "<sip:autoprov@192.0.2.1>;tag=a"),
        ("To", "<sip:100@192.0.2.7>"), ("Call-ID", "c1"), ("CSeq", "10 NOTIFY"), ("Event", "check-sync;reboot=false"),
    ])

    @Test("unanswered: Timer E from T1 doubling to T2, then Timer F at 64·T1")
    func unanswered() {
        var transaction = SIPClientTransaction(request: Self.notify)
        var driver = VirtualDriver()
        driver.apply(transaction.start())
        while driver.step(until: .seconds(60), { transaction.fire($0) }) {}
        let seconds = driver.sent.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 }
        #expect(seconds == [0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5])
        #expect(driver.timedOut)
        #expect(driver.terminatedAt == .seconds(32))
        #expect(transaction.state == .terminated)
        #expect(driver.delivered.isEmpty)
    }

    @Test("a provisional response moves E to T2; the final one is delivered once, and Timer K ends it after T4")
    func answered() throws {
        var transaction = SIPClientTransaction(request: Self.notify)
        var driver = VirtualDriver()
        driver.apply(transaction.start())
        let retransmitted = driver.step(until: .milliseconds(500), { transaction.fire($0) })
        #expect(retransmitted)  // the first retransmission
        let trying = Self.notify.response(100, "Trying")
        #expect(transaction.matches(trying))
        driver.apply(transaction.receive(trying))
        #expect(transaction.state == .proceeding)
        // The Timer E set while trying still fires; from then on E is T2 (§17.1.2.2).
        for _ in 0..<2 {
            let stepped = driver.step(until: .seconds(10), { transaction.fire($0) })
            #expect(stepped)
        }
        #expect(driver.sent == [.zero, .milliseconds(500), .milliseconds(1500), .milliseconds(5500)])
        let ok = Self.notify.response(200, "OK", toTag: "p")
        driver.apply(transaction.receive(ok))
        driver.apply(transaction.receive(ok))  // a retransmitted 200 is absorbed
        #expect(driver.delivered == [100, 200])
        #expect(Array(driver.timers.keys) == [.k])
        while driver.step(until: .seconds(60), { transaction.fire($0) }) {}
        #expect(driver.terminatedAt == .milliseconds(10_500))
        #expect(!driver.timedOut)
        #expect(driver.sent.count == 4)
    }

    @Test("responses of other transactions do not match")
    func matching() throws {
        let transaction = SIPClientTransaction(request: Self.notify)
        var other = Self.notify.response(200, "OK")
        other.set("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKother")
        #expect(!transaction.matches(other))
        var otherMethod = Self.notify.response(200, "OK")
        otherMethod.set("CSeq", "10 SUBSCRIBE")
        #expect(!transaction.matches(otherMethod))
    }

    @Test("server: a retransmitted request gets the same response again, and nothing before one was made")
    func server() throws {
        let subscribe = try SIPMessage(parsing: Array(SIPMessageTests.w52pSubscribe.utf8))
        let key = try #require(SIPTransactionKey(request: subscribe))
        #expect(SIPTransactionKey(request: try SIPMessage(parsing: subscribe.serialized())) == key)
        var transaction = SIPServerTransaction(key: key)
        var driver = VirtualDriver()
        driver.apply(transaction.receiveRetransmission())
        #expect(driver.sent.isEmpty)
        let ok = subscribe.response(200, "OK", toTag: "z")
        driver.apply(transaction.respond(ok))
        driver.now = .seconds(2)
        driver.apply(transaction.receiveRetransmission())
        #expect(driver.sent == [.zero, .seconds(2)])
        driver.apply(transaction.respond(subscribe.response(500, "Late")))  // a second answer is not sent
        #expect(driver.sent.count == 2)
        while driver.step(until: .seconds(60), { transaction.fire($0) }) {}
        #expect(driver.terminatedAt == .seconds(32))  // Timer J: 64·T1 after the 200
        driver.apply(transaction.receiveRetransmission())
        #expect(driver.sent.count == 2)
    }

    @Test("transaction keys: the branch when it has the magic cookie, else Call-ID, CSeq and From tag")
    func keys() throws {
        let subscribe = try SIPMessage(parsing: Array(SIPMessageTests.w52pSubscribe.utf8))
        var newBranch = subscribe
        newBranch.set("Via", "SIP/2.0/UDP 10.1.3.239:5059;branch=z9hG4bK999")
        #expect(SIPTransactionKey(request: newBranch) != SIPTransactionKey(request: subscribe))
        var old = subscribe
        old.set("Via", "SIP/2.0/UDP 10.1.3.239:5059")
        var oldAgain = old
        oldAgain.set("Max-Forwards", "69")
        #expect(SIPTransactionKey(request: old) == SIPTransactionKey(request: oldAgain))
        var nextCSeq = old
        nextCSeq.set("CSeq", "2 SUBSCRIBE")
        #expect(SIPTransactionKey(request: old) != SIPTransactionKey(request: nextCSeq))
        #expect(SIPTransactionKey(request: subscribe.response(200, "OK")) == nil)
    }
}
