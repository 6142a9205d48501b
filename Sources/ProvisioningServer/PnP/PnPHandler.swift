// PnP/: the SIP Plug-and-Play responder (multicast SUBSCRIBE in, NOTIFY with the provisioning URL out).
import Foundation
import Logging
import NIOCore
import SIP

/// Executes the PnP responder's transactions on its UDP channel: everything here runs on the channel's event loop.
final class PnPHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let responder: PnPResponder
    private var context: ChannelHandlerContext?
    /// SUBSCRIBEs answered, by transaction, so a retransmission gets the same 200 OK and no second NOTIFY.
    private var servers: [SIPTransactionKey: ServerEntry] = [:]
    /// NOTIFYs in flight, by branch.
    private var clients: [String: ClientEntry] = [:]
    private var limiter = SourceRateLimiter()
    /// NOTIFYs by the address they go to (a SUBSCRIBE's Contact names it, and a spoofed one names anyone): at most
    /// `burst` at once and `perSecond` after, and at most ``notifiesInFlight`` unanswered (each is resent up to ten
    /// times, Timer E), so that SUBSCRIBEs from many forged sources cannot turn the responder on one victim.
    private var targets = SourceRateLimiter(burst: 10, perSecond: 5)
    private var inFlight: [String: Int] = [:]
    static let notifiesInFlight = 8

    struct ServerEntry {
        var transaction: SIPServerTransaction
        var peer: SocketAddress
        var expiry: Scheduled<Void>?
    }

    struct ClientEntry {
        var transaction: SIPClientTransaction
        var peer: SocketAddress
        var timers: [SIPTimer: Scheduled<Void>] = [:]
        var subscription: PnPSubscription
        var client: String
        var url: String
    }

    init(responder: PnPResponder) {
        self.responder = responder
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        for entry in servers.values { entry.expiry?.cancel() }
        for entry in clients.values { entry.timers.values.forEach { $0.cancel() } }
        servers = [:]
        clients = [:]
        inFlight = [:]
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let source = envelope.remoteAddress
        let client = source.ipAddress ?? "unknown"
        guard limiter.admit(client, now: NIODeadline.now()) else {
            responder.logger.debug("pnp: rate limited", metadata: ["pnp.client": "\(client)"])
            responder.service.metrics.event("pnp-rate-limited")
            return
        }
        let message: SIPMessage
        do {
            message = try SIPMessage(parsing: envelope.data.readableBytesView)
        } catch {
            // Bounded by the per-source limit above, so a flood cannot fill the log either.
            responder.logger.notice("pnp: datagram dropped", metadata: ["pnp.client": "\(client)", "pnp.error": "\(error)"])
            return
        }
        if message.status != nil {
            receiveResponse(message)
        } else {
            receiveRequest(message, from: source, client: client)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // An ICMP error for one phone (port unreachable) must not close the listener.
        responder.logger.debug("pnp: socket error", metadata: ["pnp.error": "\(error)"])
    }

    // MARK: Requests

    private func receiveRequest(_ request: SIPMessage, from source: SocketAddress, client: String) {
        guard let key = SIPTransactionKey(request: request) else { return }
        if var entry = servers[key] {
            let actions = entry.transaction.receiveRetransmission()
            servers[key] = entry
            perform(actions, to: entry.peer)
            return
        }
        guard request.method == "SUBSCRIBE" else {
            if request.method != "ACK" { respondOnce(request, key: key, status: 405, reason: "Method Not Allowed",
                                                     extra: [("Allow", "SUBSCRIBE")], to: source) }
            return
        }
        let subscription: PnPSubscription
        do {
            subscription = try PnPSubscription(request)
        } catch .notProfileRequest {
            respondOnce(request, key: key, status: 489, reason: "Bad Event", extra: [("Allow-Events", "ua-profile")],
                        to: source)
            return
        } catch {
            responder.logger.debug("pnp: SUBSCRIBE not answered", metadata: ["pnp.client": "\(client)", "pnp.reason": "\(error)"])
            return
        }
        guard responder.admits(subscription) else {
            responder.logger.info("pnp: phone not admitted", metadata: ["pnp.mac": "\(subscription.mac)"])
            return
        }
        let (localHost, localPort) = localAddress(toward: source)
        guard let url = responder.url(for: subscription, server: localHost) else {
            responder.logger.warning("pnp: no URL to send (no HTTP listener and no [pnp] url)")
            return
        }
        // The NOTIFY goes to the Contact; a host that is not one phone's address (a name, a broadcast, multicast or
        // unspecified address) falls back to where the SUBSCRIBE came from.
        let contact = try? SocketAddress(ipAddress: subscription.notifyHost, port: subscription.notifyPort)
        let toOnePhone = contact.map { PnPHandler.isUnicast($0) && !responder.localBroadcasts.contains($0.ipAddress ?? "") }
        let peer = (toOnePhone == true ? contact : nil)
            ?? (try? SocketAddress(ipAddress: client, port: subscription.notifyPort)) ?? source
        let target = peer.ipAddress ?? client
        // Past the bound for that address the SUBSCRIBE is not answered at all: a phone sends it again (Timer A)
        // and is answered once the bound allows.
        guard inFlight[target, default: 0] < PnPHandler.notifiesInFlight, targets.admit(target, now: NIODeadline.now()) else {
            responder.logger.debug("pnp: NOTIFYs to this address limited", metadata: ["pnp.target": "\(target)"])
            responder.service.metrics.event("pnp-notify-limited")
            return
        }
        let toTag = SIPMessage.randomToken()
        var server = SIPServerTransaction(key: key)
        let accepted = subscription.accepted(request, toTag: toTag, localHost: localHost, localPort: localPort)
        servers[key] = ServerEntry(transaction: server, peer: source)
        let answered = server.respond(accepted)
        servers[key]?.transaction = server
        perform(answered, server: key, to: source)
        responder.service.recordDevice(protocolName: "sip-pnp", client: client, path: request.requestURI ?? "",
                                       result: "answered", mac: subscription.mac, model: subscription.model,
                                       firmware: subscription.firmware)

        let branch = "z9hG4bK" + SIPMessage.randomToken()
        let notify = subscription.notify(for: request, url: url, localHost: localHost, localPort: localPort,
                                         branch: branch, toTag: toTag)
        var transaction = SIPClientTransaction(request: notify)
        let started = transaction.start()
        clients[branch] = ClientEntry(transaction: transaction, peer: peer, subscription: subscription,
                                      client: target, url: url)
        inFlight[target, default: 0] += 1
        perform(started, client: branch, to: peer)
    }

    /// A final answer to a request autoprov does not take, kept for its retransmissions.
    private func respondOnce(_ request: SIPMessage, key: SIPTransactionKey, status: Int, reason: String,
                             extra: [(name: String, value: String)], to source: SocketAddress) {
        var transaction = SIPServerTransaction(key: key)
        let actions = transaction.respond(request.response(status, reason, toTag: SIPMessage.randomToken(), headers: extra))
        servers[key] = ServerEntry(transaction: transaction, peer: source)
        perform(actions, server: key, to: source)
    }

    // MARK: Responses

    private func receiveResponse(_ response: SIPMessage) {
        guard let branch = response.values("Via").first.flatMap({ try? SIPVia($0) })?.branch,
              var entry = clients[branch], entry.transaction.matches(response)
        else { return }
        let actions = entry.transaction.receive(response)
        clients[branch] = entry
        perform(actions, client: branch, to: entry.peer)
    }

    // MARK: Actions

    private func perform(_ actions: [SIPTransactionAction], server key: SIPTransactionKey? = nil,
                         client branch: String? = nil, to peer: SocketAddress) {
        guard let context else { return }
        for action in actions {
            switch action {
            case .send(let bytes):
                let envelope = AddressedEnvelope(remoteAddress: peer, data: context.channel.allocator.buffer(bytes: bytes))
                // A send that fails concerns that peer only: it is logged, and the responder goes on.
                let sent = context.eventLoop.makePromise(of: Void.self)
                sent.futureResult.whenFailure { [logger = responder.logger] error in
                    logger.warning("pnp: could not send", metadata: ["pnp.peer": "\(peer)", "pnp.error": "\(error)"])
                }
                context.writeAndFlush(wrapOutboundOut(envelope), promise: sent)
            case .schedule(let timer, let delay):
                let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
                let task = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(delay.seconds * 1e9))) {
                    bound.value.fire(timer, server: key, client: branch)
                }
                if let key {
                    servers[key]?.expiry?.cancel()
                    servers[key]?.expiry = task
                } else if let branch {
                    clients[branch]?.timers[timer]?.cancel()
                    clients[branch]?.timers[timer] = task
                }
            case .cancel(let timer):
                if let branch { clients[branch]?.timers.removeValue(forKey: timer)?.cancel() }
            case .deliver(let response):
                guard let branch, let entry = clients[branch], let status = response.status, status >= 200 else { continue }
                recordOutcome(entry, result: (200..<300).contains(status) ? "notified" : "refused-\(status)")
            case .timedOut:
                if let branch, let entry = clients[branch] { recordOutcome(entry, result: "silent") }
            case .terminated:
                if let key { servers[key] = nil }
                if let branch, let entry = clients.removeValue(forKey: branch) {
                    entry.timers.values.forEach { $0.cancel() }
                    if let count = inFlight[entry.client], count > 1 { inFlight[entry.client] = count - 1 }
                    else { inFlight[entry.client] = nil }
                }
            }
        }
    }

    private func fire(_ timer: SIPTimer, server key: SIPTransactionKey?, client branch: String?) {
        if let key, var entry = servers[key] {
            let actions = entry.transaction.fire(timer)
            servers[key] = entry
            perform(actions, server: key, to: entry.peer)
        } else if let branch, var entry = clients[branch] {
            entry.timers[timer] = nil
            let actions = entry.transaction.fire(timer)
            clients[branch] = entry
            perform(actions, client: branch, to: entry.peer)
        }
    }

    private func recordOutcome(_ entry: ClientEntry, result: String) {
        responder.logger.info("pnp: phone told its provisioning URL", metadata: [
            "pnp.mac": "\(entry.subscription.mac)", "pnp.url": "\(entry.url)", "pnp.result": "\(result)",
        ])
        responder.service.recordDevice(protocolName: "sip-pnp", client: entry.client, path: entry.url, result: result,
                                       mac: entry.subscription.mac, model: entry.subscription.model,
                                       firmware: entry.subscription.firmware)
    }

    /// Whether an address names one host: not unspecified, broadcast, multicast or reserved (a send there fails, or
    /// reaches many).
    static func isUnicast(_ address: SocketAddress) -> Bool {
        switch address {
        case .v4(let v4):
            let host = UInt32(bigEndian: v4.address.sin_addr.s_addr)
            // Not 0.0.0.0/8, 224.0.0.0/4 (multicast), 240.0.0.0/4 (with 255.255.255.255), 127.255.255.255.
            return host >> 24 != 0 && host >> 28 != 0xE && host >> 28 != 0xF && host != 0x7FFF_FFFF
        case .v6(let v6):
            let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            return bytes[0] != 0xFF && bytes.contains { $0 != 0 }
        default:
            return false
        }
    }

    /// The address this server is reached at from `peer`, for Via and Contact.
    private func localAddress(toward peer: SocketAddress) -> (String, Int) {
        let local = context?.channel.localAddress
        let port = local?.port ?? 5060
        if let host = local?.ipAddress, host != "0.0.0.0", host != "::" { return (host, port) }
        if let peerHost = peer.ipAddress, peerHost.hasPrefix("127.") { return ("127.0.0.1", port) }
        return (ProvisioningServer.primaryAddress() ?? "127.0.0.1", port)
    }
}
