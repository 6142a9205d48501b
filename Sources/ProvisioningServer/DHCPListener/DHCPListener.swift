// DHCPListener/: the built-in DHCP server's socket and lease persistence around the DHCP target's responder.
#if os(Linux)
import FileService
import Settings
import CLinuxShims
import DHCP
import Foundation
import Glibc
import Logging
import NIOCore
import NIOPosix
import ProvisioningCore
import ServiceLifecycle
import Storage
import Synchronization

/// The built-in DHCPv4 server: one UDP socket on port 67 bound to the configured interface (`SO_BINDTODEVICE`),
/// read by a thread of its own (DHCP is a few packets per phone per day). ``DHCPResponder`` decides; bound leases
/// are written to the data folder's database before the ACK leaves, and come back on restart.
final class DHCPListener: Service, Sendable {
    let configuration: DHCPConfiguration
    let service: FileService
    let log: RequestLog
    let logger: Logger
    let onListening: @Sendable (SocketAddress) -> Void
    private let stopping = Atomic<Bool>(false)

    /// How long the thread waits in `poll` before looking at ``stopping``.
    static let pollMilliseconds: Int32 = 250

    init(configuration: DHCPConfiguration, service: FileService, log: RequestLog, logger: Logger,
         onListening: @escaping @Sendable (SocketAddress) -> Void) {
        self.configuration = configuration
        self.service = service
        self.log = log
        self.logger = logger
        self.onListening = onListening
    }

    func run() async throws {
        let (address, interfaceMask) = try DHCPListener.interfaceAddress(configuration.interface)
        var settings = DHCPServerSettings(serverAddress: address, subnetMask: configuration.subnetMask ?? interfaceMask)
        settings.router = configuration.router
        settings.dns = configuration.dns
        settings.ntp = configuration.ntp
        settings.leaseSeconds = configuration.leaseSeconds
        settings.provisioningOptions = configuration.provisioningOptions
        if configuration.relayed { settings.relayedNetwork = configuration.pool.lowerBound }
        settings.phoneOUIs = Set(MACAddress.yealinkOUIs.map { oui in
            oui.split(separator: ":").compactMap { UInt8($0, radix: 16) }
        })
        for end in [configuration.pool.lowerBound, configuration.pool.upperBound] where !settings.sameNetwork(end) {
            throw ListenError(description: "dhcp.pool: \(end) is not on \(configuration.interface)'s network "
                              + "(\(address) mask \(settings.subnetMask)); the built-in DHCP server will not start")
        }
        guard configuration.relayed || !configuration.pool.contains(address) else {
            throw ListenError(description: "dhcp.pool holds \(configuration.interface)'s own address \(address)")
        }
        let responder = DHCPResponder(settings: settings, pool: try restoredPool())
        let socket = try DHCPListener.openSocket(interface: configuration.interface)
        onListening(try SocketAddress(ipAddress: address.description, port: 67))
        logger.info("dhcp: serving", metadata: ["interface": "\(configuration.interface)", "address": "\(address)",
                                                "pool": "\(configuration.pool.lowerBound)-\(configuration.pool.upperBound)"])
        let finished = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let done = Atomic<Bool>(false)
        let thread = Thread { [self] in
            clinux_name_thread("autoprov-dhcp")
            serve(socket, responder)
            close(socket)
            done.store(true, ordering: .releasing)
            finished.withLock { $0?.resume(); $0 = nil }
        }
        thread.start()
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = finished.withLock { waiting -> Bool in
                        if done.load(ordering: .acquiring) { return true }
                        waiting = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                stopping.store(true, ordering: .releasing)
            }
        } onGracefulShutdown: {
            self.stopping.store(true, ordering: .releasing)
        }
    }

    /// The stored leases that have not ended.
    private func restoredPool() throws -> DHCPLeasePool {
        let now = Date().timeIntervalSince1970
        let stored = try log.leases().compactMap { record -> DHCPLeasePool.Lease? in
            guard record.expires > now, let address = IPv4Address(record.address),
                  let mac = try? MACAddress(record.mac) else { return nil }
            return DHCPLeasePool.Lease(hardwareAddress: mac.octets, address: address, state: .bound,
                                       expires: UInt64(record.expires))
        }
        var reservations: [[UInt8]: IPv4Address] = [:]
        for (mac, address) in configuration.reservations {
            if let parsed = try? MACAddress(mac) { reservations[parsed.octets] = address }
        }
        return DHCPLeasePool(range: configuration.pool, reservations: reservations, leases: stored)
    }

    // MARK: The thread

    private func serve(_ socket: Int32, _ initial: DHCPResponder) {
        var responder = initial
        var limiter = SourceRateLimiter()
        limiter.burst = Double(configuration.perClientRate)
        limiter.perSecond = Double(configuration.perClientRate) / 2
        var buffer = [UInt8](repeating: 0, count: 4096)
        var lastExpiry: UInt64 = 0
        while !stopping.load(ordering: .acquiring) {
            var ready = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, DHCPListener.pollMilliseconds) > 0 else { continue }
            var peer = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let count = withUnsafeMutablePointer(to: &peer) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(socket, &buffer, buffer.count, 0, $0, &length)
                }
            }
            guard count > 0 else { continue }
            let now = UInt64(Date().timeIntervalSince1970)
            if now > lastExpiry + 60 {
                _ = responder.pool.expire(now: now)
                lastExpiry = now
            }
            guard let request = try? DHCPMessage(parsing: Array(buffer[0..<count])) else { continue }
            let client = MACAddress(octets: request.hardwareAddress)
            // One client flooding the server (or a spoofer walking the pool) is dropped, not answered.
            guard request.hlen == 6, limiter.admit(client.canonical, now: .now()) else { continue }
            let (answer, outcome) = responder.answer(request, now: now)
            keep(outcome, for: client, request: request, responder: responder)
            if let answer { send(answer, on: socket) }
            report(outcome, for: client, request: request)
        }
    }

    /// Writes a bound lease (before its ACK leaves) or forgets a released one.
    private func keep(_ outcome: DHCPOutcome, for client: MACAddress, request: DHCPMessage, responder: DHCPResponder) {
        do {
            switch outcome {
            case .acknowledged(let address):
                let expires = responder.pool.lease(of: client.octets)?.expires ?? 0
                try log.saveLease(LeaseRecord(mac: client.canonical, address: address.description, expires: Double(expires),
                                              vendorClass: request.vendorClass, updated: Date().timeIntervalSince1970))
            case .released, .declined:
                try log.removeLease(mac: client.canonical)
            default:
                break
            }
        } catch {
            logger.error("dhcp: cannot store the lease", metadata: ["mac": "\(client.canonical)", "error": "\(error)"])
        }
    }

    private func send(_ answer: DHCPAnswer, on socket: Int32) {
        let (address, port): (IPv4Address, UInt16) = switch answer.destination {
        case .broadcast: (.broadcast, 68)
        case .client(let address): (address, 68)
        case .relay(let address): (address, 67)
        }
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = port.bigEndian
        target.sin_addr.s_addr = address.value.bigEndian
        let bytes = answer.message.serialized()
        let sent = withUnsafePointer(to: &target) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(socket, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if sent < 0 { logger.warning("dhcp: cannot send", metadata: ["to": "\(address)", "errno": "\(errno)"]) }
    }

    /// The request log and the device registry: MAC, the address, and what happened.
    private func report(_ outcome: DHCPOutcome, for client: MACAddress, request: DHCPMessage) {
        let (result, address): (String, IPv4Address?) = switch outcome {
        case .offered(let address): ("offered", address)
        case .acknowledged(let address): ("acknowledged", address)
        case .informed: ("informed", request.ciaddr)
        case .refused: ("refused", request.requestedAddress ?? request.ciaddr)
        case .released: ("released", request.ciaddr)
        case .declined(let address): ("declined", address)
        case .exhausted: ("exhausted", nil)
        case .ignored: ("ignored", nil)
        }
        if outcome == .exhausted {
            logger.warning("dhcp: the pool is exhausted; no offer made", metadata: ["mac": "\(client.canonical)"])
        }
        guard result != "ignored" else { return }
        let vendor = request.vendorClass.map { " (\($0))" } ?? ""
        service.recordDevice(protocolName: "dhcp", client: address?.description ?? "0.0.0.0",
                             path: "lease \(address?.description ?? "-")\(vendor)", result: result,
                             mac: client.canonical, model: nil, firmware: nil)
    }

    // MARK: Sockets

    /// The interface's IPv4 address and mask (as the PnP responder finds its interfaces).
    static func interfaceAddress(_ name: String) throws -> (IPv4Address, IPv4Address) {
        let devices = (try? System.enumerateDevices()) ?? []
        guard let device = devices.first(where: { $0.name == name && $0.address?.protocol == .inet }),
              let address = device.address?.ipAddress.flatMap({ IPv4Address($0) }),
              let mask = device.netmask?.ipAddress.flatMap({ IPv4Address($0) })
        else {
            throw ListenError(description: "dhcp.interface '\(name)' does not exist or has no IPv4 address; "
                              + "the built-in DHCP server will not start")
        }
        return (address, mask)
    }

    /// UDP port 67 on `interface` only, allowed to broadcast.
    static func openSocket(interface: String) throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw ListenError(description: "dhcp: cannot make a socket (errno \(errno))") }
        var one: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_BROADCAST, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = interface.withCString { name in
            setsockopt(descriptor, SOL_SOCKET, SO_BINDTODEVICE, name, socklen_t(strlen(name) + 1))
        }
        guard bound == 0 else {
            let code = errno
            close(descriptor)
            throw ListenError(description: "dhcp: cannot bind to interface \(interface) (errno \(code); this needs root "
                              + "or CAP_NET_RAW)")
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(67).bigEndian
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            close(descriptor)
            throw ListenError(description: "dhcp: cannot listen on port 67 of \(interface) (errno \(code)"
                              + (code == EACCES ? ": ports below 1024 need root or CAP_NET_BIND_SERVICE)" : ")"))
        }
        return descriptor
    }
}
#endif
