/// What a DHCP server on one network hands out besides addresses.
public struct DHCPServerSettings: Sendable {
    /// The server's own address on the network (option 54).
    public var serverAddress: IPv4Address
    public var subnetMask: IPv4Address
    public var router: IPv4Address?
    public var dns: [IPv4Address] = []
    public var ntp: [IPv4Address] = []
    public var leaseSeconds: UInt32 = 86_400
    /// How long an offered address stays held for the client it was offered to.
    public var offerSeconds: UInt32 = 60
    /// The provisioning options (66, 43, a custom one), as their bytes, in the order given.
    public var provisioningOptions: [(code: UInt8, data: [UInt8])] = []
    /// Clients that get ``provisioningOptions`` even without asking for them: these MAC prefixes, or a vendor class
    /// starting with ``phoneVendorClass``. Others get them only when they ask (option 55).
    public var phoneOUIs: Set<[UInt8]> = []
    public var phoneVendorClass = "yealink"
    /// The clients' network, when it is not the server's own: the pool lies behind relay agents (giaddr on that
    /// network), and only relayed requests are answered.
    public var relayedNetwork: IPv4Address?

    public init(serverAddress: IPv4Address, subnetMask: IPv4Address) {
        self.serverAddress = serverAddress
        self.subnetMask = subnetMask
    }

    func isPhone(_ message: DHCPMessage) -> Bool {
        phoneOUIs.contains(Array(message.hardwareAddress.prefix(3)))
            || (message.vendorClass?.lowercased().hasPrefix(phoneVendorClass) ?? false)
    }

    /// Whether `address` is on the clients' network (the server's own, or ``relayedNetwork``).
    public func sameNetwork(_ address: IPv4Address) -> Bool {
        address.value & subnetMask.value == (relayedNetwork ?? serverAddress).value & subnetMask.value
    }
}

/// A reply and where it goes (RFC 2131 §4.1).
public struct DHCPAnswer: Sendable, Equatable {
    public enum Destination: Sendable, Equatable {
        /// 255.255.255.255, port 68 (the client has no address yet, or is told NAK).
        case broadcast
        /// The client's own address, port 68 (renewing, INFORM).
        case client(IPv4Address)
        /// A relay agent (giaddr), port 67.
        case relay(IPv4Address)
    }

    public var message: DHCPMessage
    public var destination: Destination
}

/// What happened to one request, for the log and the device registry.
public enum DHCPOutcome: Sendable, Equatable {
    case offered(IPv4Address)
    case acknowledged(IPv4Address)
    case informed
    case refused(String)
    case released
    case declined(IPv4Address)
    /// No address left to offer.
    case exhausted
    /// Not for this server, or not a request it answers.
    case ignored(String)
}

/// A DHCPv4 server's decisions (RFC 2131 §4.3), without I/O: a request and the time in, a reply and the outcome
/// out; the lease pool is the state.
public struct DHCPResponder: Sendable {
    public var settings: DHCPServerSettings
    public var pool: DHCPLeasePool

    public init(settings: DHCPServerSettings, pool: DHCPLeasePool) {
        self.settings = settings
        self.pool = pool
    }

    public mutating func answer(_ request: DHCPMessage, now: UInt64) -> (DHCPAnswer?, DHCPOutcome) {
        guard request.op == 1 else { return (nil, .ignored("not a request")) }
        guard request.htype == 1, request.hlen == 6 else { return (nil, .ignored("not Ethernet")) }
        // The pool serves one network: requests from it (directly, or through a relay agent on it), no others.
        if request.giaddr == .zero {
            guard settings.relayedNetwork == nil else { return (nil, .ignored("not through a relay agent")) }
        } else if !settings.sameNetwork(request.giaddr) {
            return (nil, .ignored("a relay agent on another network"))
        }
        let client = request.hardwareAddress
        switch request.messageType {
        case .discover?:
            guard let address = pool.candidate(for: client, requested: request.requestedAddress, now: now) else {
                return (nil, .exhausted)
            }
            pool.assign(address, to: client, state: .offered, now: now, until: now + UInt64(settings.offerSeconds))
            return (reply(.offer, to: request, address: address), .offered(address))
        case .request?:
            return answerRequest(request, client: client, now: now)
        case .decline?:
            guard let address = request.requestedAddress, request.serverIdentifier == settings.serverAddress else {
                return (nil, .ignored("decline for another server"))
            }
            pool.decline(client, address: address, now: now)
            return (nil, .declined(address))
        case .release?:
            guard request.serverIdentifier == nil || request.serverIdentifier == settings.serverAddress else {
                return (nil, .ignored("release for another server"))
            }
            pool.release(client, address: request.ciaddr)
            return (nil, .released)
        case .inform?:
            return (reply(.ack, to: request, address: .zero), .informed)
        default:
            return (nil, .ignored("no message type a server answers"))
        }
    }

    /// DHCPREQUEST in its three forms (RFC 2131 §4.3.2): selecting an offer, rebooting with a remembered address,
    /// renewing or rebinding a lease.
    private mutating func answerRequest(_ request: DHCPMessage, client: [UInt8], now: UInt64) -> (DHCPAnswer?, DHCPOutcome) {
        let leaseEnd = now + UInt64(settings.leaseSeconds)
        if let server = request.serverIdentifier {
            // SELECTING: the client chose an offer.
            guard server == settings.serverAddress else {
                if let offer = pool.lease(of: client), offer.state == .offered { pool.release(client, address: offer.address) }
                return (nil, .ignored("the client chose another server"))
            }
            guard let address = request.requestedAddress, request.ciaddr == .zero || request.ciaddr == address else {
                return (nak(request, "no requested address"), .refused("no requested address"))
            }
            guard pool.isAvailable(address, for: client, now: now),
                  pool.assign(address, to: client, state: .bound, now: now, until: leaseEnd)
            else { return (nak(request, "address not available"), .refused("address not available")) }
            return (reply(.ack, to: request, address: address), .acknowledged(address))
        }
        if let address = request.requestedAddress, request.ciaddr == .zero {
            // INIT-REBOOT: only the address this client holds is confirmed.
            guard pool.lease(of: client)?.address == address, pool.isAvailable(address, for: client, now: now) else {
                return (nak(request, "not your address"), .refused("not your address"))
            }
            pool.assign(address, to: client, state: .bound, now: now, until: leaseEnd)
            return (reply(.ack, to: request, address: address), .acknowledged(address))
        }
        // RENEWING or REBINDING: ciaddr is the address in use.
        let address = request.ciaddr
        guard address != .zero, settings.sameNetwork(address), pool.isAvailable(address, for: client, now: now),
              pool.assign(address, to: client, state: .bound, now: now, until: leaseEnd)
        else { return (nak(request, "not your address"), .refused("not your address")) }
        return (reply(.ack, to: request, address: address), .acknowledged(address))
    }

    private func nak(_ request: DHCPMessage, _ reason: String) -> DHCPAnswer {
        var message = base(.nak, request)
        message.set(DHCPOption.message, Array(reason.utf8))
        return DHCPAnswer(message: message, destination: request.giaddr == .zero ? .broadcast : .relay(request.giaddr))
    }

    private func base(_ type: DHCPMessageType, _ request: DHCPMessage) -> DHCPMessage {
        var message = DHCPMessage(op: 2, xid: request.xid, chaddr: request.chaddr)
        message.htype = request.htype
        message.hlen = request.hlen
        message.flags = request.flags
        message.giaddr = request.giaddr
        message.set(DHCPOption.messageType, [type.rawValue])
        message.set(DHCPOption.serverIdentifier, settings.serverAddress.bytes)
        return message
    }

    /// An OFFER or ACK (for INFORM: no address, no lease times) with the network's options and, for a phone or a
    /// client that asks, the provisioning options.
    private func reply(_ type: DHCPMessageType, to request: DHCPMessage, address: IPv4Address) -> DHCPAnswer {
        var message = base(type, request)
        message.yiaddr = address
        let informing = request.messageType == .inform
        if informing { message.ciaddr = request.ciaddr }
        if !informing {
            let lease = settings.leaseSeconds
            message.set(DHCPOption.leaseTime, IPv4Address(value: lease).bytes)
            message.set(DHCPOption.renewalTime, IPv4Address(value: lease / 2).bytes)
            message.set(DHCPOption.rebindingTime, IPv4Address(value: lease / 8 * 7).bytes)
        }
        message.set(DHCPOption.subnetMask, settings.subnetMask.bytes)
        if let router = settings.router { message.set(DHCPOption.router, router.bytes) }
        if !settings.dns.isEmpty { message.set(DHCPOption.domainNameServer, settings.dns.flatMap(\.bytes)) }
        if !settings.ntp.isEmpty { message.set(DHCPOption.ntpServers, settings.ntp.flatMap(\.bytes)) }
        let asked = Set(request.parameterRequestList)
        let phone = settings.isPhone(request)
        for (code, data) in settings.provisioningOptions where phone || asked.contains(code) {
            message.set(code, data)
        }
        let destination: DHCPAnswer.Destination =
            if request.giaddr != .zero { .relay(request.giaddr) }
            else if request.ciaddr != .zero, type == .ack { .client(request.ciaddr) }
            else { .broadcast }
        return DHCPAnswer(message: message, destination: destination)
    }
}
