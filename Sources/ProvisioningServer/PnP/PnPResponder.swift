import FileService
import Settings
import Logging
import NIOCore
import NIOPosix
import ProvisioningCore
import ServiceLifecycle
import SIP
import Synchronization

/// The SIP Plug-and-Play responder (yealink-protocols.md §2): answers a phone's `ua-profile` SUBSCRIBE with 200 OK,
/// then sends it a NOTIFY whose body is the provisioning URL, retransmitted until answered or Timer F.
final class PnPResponder: Service, Sendable {
    static let group = "224.0.1.75"

    let address: ServerConfiguration.ListenAddress
    let configuration: ServerConfiguration
    let service: FileService
    let logger: Logger
    /// The URL template when none is configured (the HTTP listener's, once it is bound).
    let defaultURL: @Sendable () -> String?
    let onBound: @Sendable (SocketAddress) -> Void
    private let boundPort = Mutex<Int?>(nil)
    /// The broadcast addresses of this machine's networks: a Contact there is not one phone.
    let localBroadcasts: Set<String> = Set(((try? System.enumerateDevices()) ?? []).compactMap {
        $0.broadcastAddress?.ipAddress
    })

    init(address: ServerConfiguration.ListenAddress, configuration: ServerConfiguration, service: FileService,
         logger: Logger, defaultURL: @escaping @Sendable () -> String?,
         onBound: @escaping @Sendable (SocketAddress) -> Void) {
        self.address = address
        self.configuration = configuration
        self.service = service
        self.logger = logger
        self.defaultURL = defaultURL
        self.onBound = onBound
    }

    func run() async throws {
        var first = true
        // One peer's datagram must never end PnP: NIO closes a datagram channel on a send error it does not expect
        // (a Contact on a network with no route, say); that is logged, and the socket opened again on its port.
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            let channel: any Channel
            do {
                channel = try await bind()
            } catch {
                // PnP is a convenience: a PBX on the same machine may hold 5060, and the rest must keep serving.
                logger.warning("pnp: cannot listen, PnP is off", metadata: [
                    "pnp.address": "\(address)", "pnp.error": "\(error)",
                ])
                try? await gracefulShutdown()
                return
            }
            await joinGroup(channel)
            if first, let bound = channel.localAddress { onBound(bound) }
            first = false
            await channel.closeOnShutdownOrCancellation()
            if !Task.isCancelled, !Task.isShuttingDownGracefully {
                logger.error("pnp: the socket closed after an error; opening it again", metadata: [
                    "pnp.address": "\(address)",
                ])
            }
        }
    }

    /// The UDP socket, on the port it had at first (a reopened one keeps the port phones know).
    private func bind() async throws -> any Channel {
        let port = boundPort.withLock { $0 } ?? address.port
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            // A SIP message over UDP may be up to 65,535 bytes (RFC 3261 §18.1.1); NIO reads 2,048 by default and
            // cut a larger SUBSCRIBE, which then went unanswered. Every datagram is read whole.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(PnPHandler(responder: self))
                }
            }
            .bind(host: address.host, port: port).get()
        boundPort.withLock { $0 = channel.localAddress?.port }
        return channel
    }

    /// Joins 224.0.1.75 on each configured interface (or the system's choice); a failure is only a warning.
    private func joinGroup(_ channel: any Channel) async {
        guard !address.host.contains(":"), let multicast = channel as? any MulticastChannel,
              let group = try? SocketAddress(ipAddress: PnPResponder.group, port: channel.localAddress?.port ?? 5060)
        else { return }
        let devices = (try? System.enumerateDevices()) ?? []
        let wanted: [NIONetworkDevice?] = configuration.pnpInterfaces.isEmpty
            ? [nil]
            : configuration.pnpInterfaces.map { name in
                devices.first { $0.name == name && $0.address?.protocol == .inet }
            }
        for (index, device) in wanted.enumerated() {
            let name = configuration.pnpInterfaces.isEmpty ? "default" : configuration.pnpInterfaces[index]
            if device == nil, !configuration.pnpInterfaces.isEmpty {
                logger.warning("pnp: no such IPv4 interface, multicast not joined", metadata: ["pnp.interface": "\(name)"])
                continue
            }
            do {
                try await multicast.joinGroup(group, device: device).get()
            } catch {
                logger.warning("pnp: cannot join 224.0.1.75; unicast SUBSCRIBEs are still answered", metadata: [
                    "pnp.interface": "\(name)", "pnp.error": "\(error)",
                ])
            }
        }
    }

    /// The URL for one phone: the template with `$MAC`, `$PN` and `$SERVER` filled in.
    func url(for subscription: PnPSubscription, server: String) -> String? {
        let template = configuration.pnpURL.isEmpty ? defaultURL() : configuration.pnpURL
        guard let template, let mac = try? MACAddress(subscription.mac) else { return nil }
        let productName = ModelCatalog.model(named: subscription.model)?.defaultProductName ?? subscription.model
        return ServerURLTemplate(template.replacingAll("$SERVER", with: server))
            .expanded(productName: productName, mac: mac)
    }

    /// Whether this phone is one autoprov answers (`allow_ouis`, `known_devices_only`).
    func admits(_ subscription: PnPSubscription) -> Bool {
        guard let mac = try? MACAddress(subscription.mac) else { return false }
        if !configuration.pnpAllowOUIs.isEmpty, !configuration.pnpAllowOUIs.contains(mac.oui) { return false }
        return !configuration.pnpKnownDevicesOnly || service.knows(mac: mac.canonical)
    }
}
