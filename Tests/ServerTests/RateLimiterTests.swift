import NIOCore
import Testing
@testable import ProvisioningServer

@Suite("Per-source rate limit of PnP and DHCP datagrams (S6)", .timeLimit(.minutes(2)))
struct RateLimiterTests {
    @Test("a burst of 40 at once, then 20 a second; another address has its own allowance")
    func burstAndRefill() {
        var limiter = SourceRateLimiter()
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        let first = (0..<150).filter { _ in limiter.admit("192.0.2.1", now: start) }.count
        #expect(first == 40)
        let other = limiter.admit("192.0.2.2", now: start)
        #expect(other)
        // Half a second later: 10 more.
        let later = (0..<150).filter { _ in limiter.admit("192.0.2.1", now: start + .milliseconds(500)) }.count
        #expect(later == 10)
        // Long quiet: never more than the burst.
        let rested = (0..<150).filter { _ in limiter.admit("192.0.2.1", now: start + .seconds(60)) }.count
        #expect(rested == 40)
    }
}
