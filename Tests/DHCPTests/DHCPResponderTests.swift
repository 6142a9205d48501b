@testable import DHCP
import Testing

/// RFC 2131 §4.3: what the built-in server answers, on a virtual clock.
@Suite("DHCP server decisions (RFC 2131 §4.3) and the lease pool", .timeLimit(.minutes(2)))
struct DHCPResponderTests {
    static let server = IPv4Address("192.0.2.1")!

    static func responder(pool range: ClosedRange<Int> = 100...199,
                          reservations: [[UInt8]: IPv4Address] = [:]) -> DHCPResponder {
        var settings = DHCPServerSettings(serverAddress: server, subnetMask: IPv4Address("255.255.255.0")!)
        settings.router = server
        settings.dns = [IPv4Address("192.0.2.53")!]
        settings.leaseSeconds = 3600
        settings.provisioningOptions = [(66, Array("http://192.0.2.1:8080/".utf8)), (160, Array("http://x/$PN".utf8))]
        settings.phoneOUIs = [[0x00, 0x15, 0x65]]
        let start = IPv4Address(value: server.value & 0xFFFF_FF00 | UInt32(range.lowerBound))
        let end = IPv4Address(value: server.value & 0xFFFF_FF00 | UInt32(range.upperBound))
        return DHCPResponder(settings: settings, pool: DHCPLeasePool(range: start...end, reservations: reservations))
    }

    static func mac(_ n: Int, oui: [UInt8] = [0x00, 0x15, 0x65]) -> [UInt8] {
        oui + [UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
    }

    static func request(_ type: DHCPMessageType, _ mac: [UInt8], requested: IPv4Address? = nil,
                        server: IPv4Address? = nil, ciaddr: IPv4Address = .zero, asks: [UInt8] = [1, 3, 6]) -> DHCPMessage {
        var message = DHCPMessage(op: 1, xid: 42, chaddr: mac)
        message.ciaddr = ciaddr
        message.set(DHCPOption.messageType, [type.rawValue])
        message.set(DHCPOption.requestedAddress, requested?.bytes)
        message.set(DHCPOption.serverIdentifier, server?.bytes)
        message.set(DHCPOption.parameterRequestList, asks)
        return message
    }

    /// DISCOVER, then REQUEST of what was offered: the address bound.
    static func lease(_ responder: inout DHCPResponder, _ mac: [UInt8], now: UInt64 = 1000) -> IPv4Address? {
        guard case (let offer?, .offered(let address)) = responder.answer(request(.discover, mac), now: now) else { return nil }
        #expect(offer.message.messageType == .offer)
        let (ack, outcome) = responder.answer(request(.request, mac, requested: address, server: server), now: now)
        guard outcome == .acknowledged(address), ack?.message.messageType == .ack else { return nil }
        return address
    }

    @Test("DISCOVER, OFFER, REQUEST, ACK: the lowest free address, the lease times, the network's options, broadcast")
    func fullExchange() throws {
        var responder = Self.responder()
        let (offer, outcome) = responder.answer(Self.request(.discover, Self.mac(1)), now: 1000)
        #expect(outcome == .offered(IPv4Address("192.0.2.100")!))
        let offered = try #require(offer)
        #expect(offered.destination == .broadcast)
        #expect(offered.message.op == 2 && offered.message.xid == 42 && offered.message.hardwareAddress == Self.mac(1))
        #expect(offered.message.serverIdentifier == Self.server)
        #expect(offered.message.option(DHCPOption.leaseTime) == [0, 0, 0x0E, 0x10])
        #expect(offered.message.option(DHCPOption.renewalTime) == [0, 0, 0x07, 0x08])
        #expect(offered.message.option(DHCPOption.rebindingTime) == [0, 0, 0x0C, 0x4E])
        #expect(offered.message.option(DHCPOption.subnetMask) == [255, 255, 255, 0])
        #expect(offered.message.option(DHCPOption.domainNameServer) == [192, 0, 2, 53])
        let (ack, bound) = responder.answer(Self.request(.request, Self.mac(1), requested: offered.message.yiaddr,
                                                          server: Self.server), now: 1001)
        #expect(bound == .acknowledged(IPv4Address("192.0.2.100")!))
        #expect(ack?.message.yiaddr == IPv4Address("192.0.2.100"))
        #expect(responder.pool.lease(of: Self.mac(1))?.state == .bound)
        #expect(responder.pool.lease(of: Self.mac(1))?.expires == 1001 + 3600)
        // The parsed wire form says the same.
        let wire = try DHCPMessage(parsing: try #require(ack).message.serialized())
        #expect(wire.messageType == .ack && wire.yiaddr == IPv4Address("192.0.2.100"))
    }

    @Test("provisioning options go to phones (Yealink prefix or vendor class) and to clients that ask, not to others")
    func provisioningOptions() throws {
        var responder = Self.responder()
        let phone = try #require(responder.answer(Self.request(.discover, Self.mac(1)), now: 0).0)
        #expect(phone.message.option(66) == Array("http://192.0.2.1:8080/".utf8))
        #expect(phone.message.option(160) == Array("http://x/$PN".utf8))
        let laptop = [UInt8]([0x52, 0x54, 0, 0, 0, 1])
        let other = try #require(responder.answer(Self.request(.discover, laptop), now: 0).0)
        #expect(other.message.option(66) == nil && other.message.option(160) == nil)
        let asking = try #require(responder.answer(Self.request(.discover, [0x52, 0x54, 0, 0, 0, 2], asks: [1, 160]), now: 0).0)
        #expect(asking.message.option(160) != nil && asking.message.option(66) == nil)
        var byClass = Self.request(.discover, [0x52, 0x54, 0, 0, 0, 3])
        byClass.set(DHCPOption.vendorClass, Array("yealink".utf8))
        #expect(try #require(responder.answer(byClass, now: 0).0).message.option(66) != nil)
    }

    @Test("200 clients get 200 distinct addresses; the 201st of a 200-address pool gets no offer")
    func distinctAndExhausted() {
        var responder = Self.responder(pool: 1...200)
        var given = Set<IPv4Address>()
        for n in 0..<200 {
            guard let address = Self.lease(&responder, Self.mac(n)) else {
                Issue.record("client \(n) got no lease")
                return
            }
            given.insert(address)
        }
        #expect(given.count == 200)
        #expect(responder.answer(Self.request(.discover, Self.mac(999)), now: 1000).1 == .exhausted)
        // A client asking again keeps its address.
        #expect(Self.lease(&responder, Self.mac(7)) == IPv4Address("192.0.2.8"))
    }

    @Test("an address is never given to two clients: a REQUEST for another's address gets NAK")
    func noSharing() throws {
        var responder = Self.responder()
        let first = try #require(Self.lease(&responder, Self.mac(1)))
        let (nak, outcome) = responder.answer(Self.request(.request, Self.mac(2), requested: first, server: Self.server), now: 1000)
        #expect(outcome == .refused("address not available"))
        #expect(nak?.message.messageType == .nak && nak?.destination == .broadcast)
        let (_, reboot) = responder.answer(Self.request(.request, Self.mac(2), requested: first), now: 1000)
        #expect(reboot == .refused("not your address"))
        #expect(responder.pool.lease(of: Self.mac(1))?.address == first)
    }

    @Test("reservations: the reserved client always gets its address, nobody else ever does")
    func reservations() throws {
        let fixed = IPv4Address("192.0.2.100")!
        var responder = Self.responder(reservations: [Self.mac(9): fixed])
        #expect(Self.lease(&responder, Self.mac(1)) == IPv4Address("192.0.2.101"))
        #expect(Self.lease(&responder, Self.mac(9)) == fixed)
        #expect(responder.answer(Self.request(.request, Self.mac(2), requested: fixed), now: 1000).1 == .refused("not your address"))
    }

    @Test("a client that chose another server frees its offer; RENEW is answered to the client's address")
    func selectingAndRenewing() throws {
        var responder = Self.responder()
        _ = responder.answer(Self.request(.discover, Self.mac(1)), now: 0)
        let (none, outcome) = responder.answer(Self.request(.request, Self.mac(1), requested: IPv4Address("192.0.2.100"),
                                                            server: IPv4Address("192.0.2.2")), now: 1)
        #expect(none == nil && outcome == .ignored("the client chose another server"))
        #expect(responder.pool.lease(of: Self.mac(1)) == nil)
        let address = try #require(Self.lease(&responder, Self.mac(1), now: 10))
        let (renewed, renewal) = responder.answer(Self.request(.request, Self.mac(1), ciaddr: address), now: 2000)
        #expect(renewal == .acknowledged(address))
        #expect(renewed?.destination == .client(address))
        #expect(responder.pool.lease(of: Self.mac(1))?.expires == 2000 + 3600)
        let (_, stranger) = responder.answer(Self.request(.request, Self.mac(2), ciaddr: address), now: 2000)
        #expect(stranger == .refused("not your address"))
    }

    @Test("RELEASE frees the address; DECLINE keeps it from everyone for a while; leases expire")
    func releaseDeclineExpire() throws {
        var responder = Self.responder(pool: 100...101)
        let a = try #require(Self.lease(&responder, Self.mac(1)))
        _ = responder.answer(Self.request(.release, Self.mac(1), server: Self.server, ciaddr: a), now: 1100)
        #expect(responder.pool.lease(of: Self.mac(1)) == nil)
        let b = try #require(Self.lease(&responder, Self.mac(2), now: 1200))
        #expect(b == a)
        #expect(responder.answer(Self.request(.decline, Self.mac(2), requested: b, server: Self.server), now: 1300).1 == .declined(b))
        #expect(Self.lease(&responder, Self.mac(3), now: 1400) == IPv4Address("192.0.2.101"))
        #expect(responder.answer(Self.request(.discover, Self.mac(4)), now: 1500).1 == .exhausted)
        // After the decline period, and after mac 3's lease ends, both addresses are free again.
        _ = responder.pool.expire(now: 1400 + 3600)
        #expect(responder.answer(Self.request(.discover, Self.mac(4)), now: 1400 + 3600).1 == .offered(a))
    }

    @Test("relays (giaddr) get the reply on port 67; INFORM gets options without an address or lease")
    func relayAndInform() throws {
        var responder = Self.responder()
        var relayed = Self.request(.discover, Self.mac(1))
        relayed.giaddr = IPv4Address("192.0.2.254")!
        relayed.hops = 1
        let offer = try #require(responder.answer(relayed, now: 0).0)
        #expect(offer.destination == .relay(IPv4Address("192.0.2.254")!))
        #expect(offer.message.giaddr == IPv4Address("192.0.2.254"))
        let inform = try #require(responder.answer(Self.request(.inform, Self.mac(5), ciaddr: IPv4Address("192.0.2.77")!), now: 0).0)
        #expect(inform.message.messageType == .ack && inform.message.yiaddr == .zero)
        #expect(inform.message.option(DHCPOption.leaseTime) == nil)
        #expect(inform.message.option(66) != nil)
        #expect(inform.destination == .client(IPv4Address("192.0.2.77")!))
    }

    @Test("a pool behind relay agents: only relayed requests from that network are answered, to the relay")
    func relayedNetwork() throws {
        var responder = Self.responder()
        responder.settings.serverAddress = IPv4Address("10.9.0.1")!
        responder.settings.relayedNetwork = IPv4Address("192.0.2.0")!
        #expect(responder.answer(Self.request(.discover, Self.mac(1)), now: 0).1 == .ignored("not through a relay agent"))
        var relayed = Self.request(.discover, Self.mac(1))
        relayed.giaddr = IPv4Address("192.0.2.1")!
        let (offer, outcome) = responder.answer(relayed, now: 0)
        #expect(outcome == .offered(IPv4Address("192.0.2.100")!))
        #expect(offer?.destination == .relay(IPv4Address("192.0.2.1")!))
        #expect(offer?.message.serverIdentifier == IPv4Address("10.9.0.1"))
        var elsewhere = relayed
        elsewhere.giaddr = IPv4Address("198.51.100.1")!
        #expect(responder.answer(elsewhere, now: 0).1 == .ignored("a relay agent on another network"))
        // A server for its own network does not hand its addresses to a relay's other network either.
        var local = Self.responder()
        #expect(local.answer(elsewhere, now: 0).1 == .ignored("a relay agent on another network"))
    }

    @Test("stored leases come back on restart; contradicting ones keep the first holder")
    func restoredLeases() {
        let address = IPv4Address("192.0.2.150")!
        let pool = DHCPLeasePool(range: IPv4Address("192.0.2.100")!...IPv4Address("192.0.2.199")!, leases: [
            .init(hardwareAddress: Self.mac(1), address: address, state: .bound, expires: 5000),
            .init(hardwareAddress: Self.mac(2), address: address, state: .bound, expires: 6000),
        ])
        #expect(pool.lease(of: Self.mac(1))?.address == address)
        #expect(pool.lease(of: Self.mac(2)) == nil)
        var responder = DHCPResponder(settings: Self.responder().settings, pool: pool)
        #expect(responder.answer(Self.request(.discover, Self.mac(1)), now: 1000).1 == .offered(address))
    }

    @Test("not answered: replies, non-Ethernet hardware, messages without a type a server answers")
    func ignored() {
        var responder = Self.responder()
        var reply = Self.request(.discover, Self.mac(1))
        reply.op = 2
        #expect(responder.answer(reply, now: 0).1 == .ignored("not a request"))
        var token = Self.request(.discover, Self.mac(1))
        token.htype = 6
        #expect(responder.answer(token, now: 0).1 == .ignored("not Ethernet"))
        var untyped = Self.request(.discover, Self.mac(1))
        untyped.set(DHCPOption.messageType, nil)
        #expect(responder.answer(untyped, now: 0).1 == .ignored("no message type a server answers"))
        #expect(responder.answer(Self.request(.offer, Self.mac(1)), now: 0).1 == .ignored("no message type a server answers"))
    }
}
