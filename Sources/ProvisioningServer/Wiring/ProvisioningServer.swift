import Admin
import FileService
import HTTP
import Inventory
import Settings
import Foundation
import Logging
import NIOCore
import ProvisioningCore
import NIOPosix
import NIOSSL
import FTP
import ServiceLifecycle
import PostgresStore
import Storage
import Synchronization
import TFTP

/// `autoprov serve`: the request log and a ``ListenerGroup`` of every listener in one `ServiceGroup`, over one
/// ``FileService``.
public struct ProvisioningServer: Sendable {
    public let configuration: ServerConfiguration
    let logger: Logger

    public init(configuration: ServerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// A listener that is up, and the URL to give phones.
    public struct Listener: Sendable {
        public var name: String
        public var address: SocketAddress
        public var phoneURL: String
    }

    /// Runs until SIGTERM or SIGINT; `onListening` is told of each listener once it is bound.
    public func run(onListening reportListening: @escaping @Sendable (Listener) -> Void = { _ in }) async throws {
        let phoneURLs = PhoneURLs()
        let onListening: @Sendable (Listener) -> Void = { listener in
            phoneURLs.add(listener)
            reportListening(listener)
        }
        if let raised = ProvisioningServer.raiseDescriptorLimit() {
            logger.notice("open-file limit raised to the hard limit", metadata: ["limit": "\(raised)"])
        }
        let dataDirectory = URL(fileURLWithPath: configuration.data)
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        // The inventory, and administrators' accounts and tokens beside it: in the data folder, or in the PostgreSQL
        // several nodes share ([store] url).
        let local = try SQLiteInventory(path: dataDirectory.appendingPathComponent("inventory.sqlite").path)
        let inventoryStore: any InventoryStore
        do {
            inventoryStore = configuration.storeURL == nil ? local : try Stores.inventory(
                url: configuration.storeURL, passwordFile: configuration.storePasswordFile, sqlitePath: "", logger: logger)
        } catch {
            throw ListenError(description: "[store] url: \(error)")
        }
        // The inventory's generated files, served after uploads and before the root.
        let generated: GeneratedFiles
        do {
            generated = try GeneratedFiles(
                store: inventoryStore,
                configVariables: configuration.inventoryVariables,
                secretVariables: SecretVariables(patterns: configuration.secretVariables),
                secretsMode: configuration.inventorySecrets)
        } catch let problems as TemplateProblems {
            throw ListenError(description: "the stored templates do not compile; fix them with 'autoprov template "
                              + "import':\n\(problems)")
        }
        // Phones the inventory does not know are added as pending from what the request log identifies.
        let pending = PendingDevices(generated: generated, perAddress: configuration.pendingPerAddress,
                                     autoApprove: configuration.autoApprove, logger: logger)
        // The request log and device registry: every node's in the shared PostgreSQL, else the data folder's.
        let logStore: any RequestLogStore
        do {
            logStore = try configuration.storeURL.map {
                try Stores.requestLog(url: $0, passwordFile: configuration.storePasswordFile, logger: logger)
            } ?? SQLiteRequestLog(path: dataDirectory.appendingPathComponent("autoprov.sqlite").path)
        } catch let error where configuration.storeURL != nil {
            throw ListenError(description: "[store] url: \(error)")
        }
        let log = RequestLog(store: logStore, logger: logger, identify: DeviceIdentity.fill,
                             observe: { pending.observe($0, order: $1) })
        let metrics = ServerMetrics(droppedLogRecords: { log.dropped }, waitingLogRecords: { log.retained })
        // Every node's uploads in the shared PostgreSQL, the data folder holding this node's copy; else the folder alone.
        let sharedUploads: (any SharedUploadStore)?
        do {
            sharedUploads = try configuration.storeURL.map {
                try Stores.uploads(url: $0, passwordFile: configuration.storePasswordFile, logger: logger)
            }
        } catch {
            throw ListenError(description: "[store] url: \(error)")
        }
        // With HTTP on, each file's HTTP head is made once, when the file is loaded.
        let service = try FileService(settings: configuration.fileServiceSettings, log: log, metrics: metrics,
                                      prepare: configuration.http != nil || configuration.https != nil
                                          ? HTTPServer.filePreparer : nil,
                                      generated: generated, sharedUploads: sharedUploads)
        let recovered = service.recoveredUploads
        if recovered.journaled > 0 {
            logger.notice("the last stop was not clean: uploads checked against the upload journal", metadata: [
                "journaled": "\(recovered.journaled)", "files_put_back": "\(recovered.files)",
                "versions_put_back": "\(recovered.versions)"])
        }
        let watcher = InventoryWatcher(
            generated: generated, service: service, logger: logger, serverURL: configuration.templateServerURL,
            notifications: configuration.notifyOnChange
                ? .init(log: log, perSecond: configuration.notifyRate, port: configuration.notifyPort) : nil,
            interval: .seconds(configuration.storePollSeconds))
        var listeners: [(name: String, service: any Service)] = []
        // Connections per client address (S6), counted where they are accepted; HTTP and HTTPS share one count.
        let exempt = try configuration.connectionsExempt.map { text throws(ConfigurationError) in try AddressRange(text) }
        let httpLimits = HTTPLimits(
            connections: ConnectionLimits(perAddress: configuration.connectionsPerAddress,
                                          total: configuration.connections, exempt: exempt, metrics: metrics),
            headTimeout: .seconds(configuration.headTimeoutSeconds), headBytes: configuration.headBytes)

        if let address = configuration.tftp {
            var tftpConfiguration = TFTPServerConfiguration(host: address.host, port: address.port)
            tftpConfiguration.maximumTransfers = configuration.tftpMaximumTransfers
            tftpConfiguration.maximumTransfersPerClient = configuration.tftpMaximumTransfersPerAddress
            tftpConfiguration.uploadBudget = service.uploadBudget
            let tftp = TFTPServer(configuration: tftpConfiguration, provider: TFTPFrontEnd(service: service),
                                  logger: logger)
            metrics.trackInFlight(protocolName: "tftp") { tftp.transfersInFlight }
            metrics.trackEvents("tftp-timeout") { tftp.timeouts.load(ordering: .relaxed) }
            metrics.trackEvents("tftp-dropped") { tftp.requestsDropped.load(ordering: .relaxed) }
            listeners.append(("TFTP", ListenerService(name: "TFTP", address: address, logger: logger) {
                try await withThrowingTaskGroup { group in
                    group.addTask { try await tftp.run() }
                    // Said once the socket is bound (a bind that fails ends `run` with its error instead).
                    if let bound = try? await tftp.localAddress {
                        onListening(Listener(name: "TFTP", address: bound, phoneURL: ProvisioningServer.url("tftp", bound)))
                    }
                    try await group.waitForAll()
                }
            }))
        }
        if let address = configuration.http {
            listeners.append(("HTTP", try httpListener("HTTP", address, service: service, limits: httpLimits, tls: nil,
                                                         onListening: onListening)))
        }
        if let address = configuration.https {
            let tls = try ServerCertificate.tlsConfiguration(configuration, dataDirectory: dataDirectory)
            listeners.append(("HTTPS", try httpListener("HTTPS", address, service: service, limits: httpLimits, tls: tls,
                                                          onListening: onListening)))
        }
        if let address = configuration.ftp {
            // FTPS (AUTH TLS) uses the HTTPS certificate; FTP clients are not asked for certificates.
            var tls = try ServerCertificate.tlsConfiguration(configuration, dataDirectory: dataDirectory)
            tls.certificateVerification = .none
            tls.trustRoots = nil
            var ftpConfiguration = FTPServerConfiguration(
                host: address.host, port: address.port, passivePorts: configuration.ftpPassivePorts,
                passiveAddress: configuration.ftpPassiveAddress, tls: try NIOSSLContext(configuration: tls))
            ftpConfiguration.maximumUploadBytes = configuration.uploadMaximumBytes
            ftpConfiguration.uploadBudget = service.uploadBudget
            ftpConfiguration.maximumSessions = configuration.ftpSessions
            ftpConfiguration.loginTimeout = .seconds(configuration.ftpLoginTimeoutSeconds)
            let front = FTPFrontEnd(
                service: service,
                sessionLimits: ConnectionLimits(perAddress: configuration.ftpSessionsPerAddress, exempt: exempt,
                                                metrics: metrics),
                loginTimeout: .seconds(configuration.ftpLoginTimeoutSeconds),
                epsvReplyDelay: .microseconds(configuration.ftpEPSVReplyDelayMicroseconds))
            let onBound: @Sendable (SocketAddress) -> Void = { bound in
                onListening(Listener(name: "FTP", address: bound, phoneURL: ProvisioningServer.url("ftp", bound)))
            }
            let ftp = FTPServer(configuration: ftpConfiguration, provider: front, logger: logger, onBound: onBound)
            listeners.append(("FTP", ListenerService(name: "FTP", address: address, logger: logger) { [logger] in
                #if os(Linux)
                // Plain sessions on epoll loops; TLS and active data connections go to `ftp` (SwiftNIO).
                let fastPath = try FTPFastPath(host: address.host, port: address.port, threads: System.coreCount,
                                               server: ftp, front: front, logger: logger)
                fastPath.start()
                onBound(fastPath.address)
                await fastPath.runUntilShutdown(drainSeconds: 10)
                #else
                try await ftp.run()
                #endif
            }))
        }
        if let address = configuration.pnp {
            let pnp = PnPResponder(address: address, configuration: configuration, service: service, logger: logger,
                                   defaultURL: { phoneURLs.preferred }) { bound in
                // What PnP sends (its template, or the HTTP URL): phones booting with PnP need nothing else.
                let sent = configuration.pnpURL.isEmpty ? phoneURLs.preferred ?? "(no URL yet)" : configuration.pnpURL
                onListening(Listener(name: "PnP", address: bound, phoneURL: sent))
            }
            listeners.append(("PnP", pnp))
        }
        if let dhcp = configuration.dhcp {
            #if os(Linux)
            let sent = dhcp.customValue.isEmpty ? (dhcp.option66.isEmpty ? dhcp.option43 : dhcp.option66) : dhcp.customValue
            listeners.append(("DHCP", DHCPListener(configuration: dhcp, service: service, log: log, logger: logger) { bound in
                onListening(Listener(name: "DHCP", address: bound, phoneURL: sent.isEmpty ? "(no provisioning option set)" : sent))
            }))
            #else
            throw ListenError(description: "the built-in DHCP server runs on Linux only")
            #endif
        }
        if let address = configuration.admin {
            // The same store as the file service's inventory, for the API's reads and writes.
            let editor = InventoryEditor(store: inventoryStore, configVariables: configuration.inventoryVariables,
                                         secretVariables: SecretVariables(patterns: configuration.secretVariables),
                                         serverURL: configuration.templateServerURL)
            let checkSync = ServerCheckSync(log: log, port: configuration.notifyPort, defaultRate: Double(configuration.notifyRate))
            // Over TLS with the HTTPS certificate when asked; administrators' browsers are not asked for certificates.
            var tls: TLSConfiguration?
            if configuration.adminTLS {
                tls = try ServerCertificate.tlsConfiguration(configuration, dataDirectory: dataDirectory)
                tls?.certificateVerification = .none
                tls?.trustRoots = nil
            }
            let admins = inventoryStore as? any AdminTokenStore & AdminUserStore ?? local
            let admin = AdminServer(editor: editor, tokens: admins, users: admins, log: log, checkSync: checkSync,
                                    root: configuration.root, uploads: service.uploads,
                                    uploadHistory: service.uploadHistory, metrics: service.metrics,
                                    secureCookies: tls != nil,
                                    logger: logger)
            listeners.append(("admin", ListenerService(name: "admin", address: address, logger: logger) { [tls] in
                try await admin.run(host: address.host, port: address.port, tls: tls) { bound in
                    onListening(Listener(name: "admin", address: bound,
                                         phoneURL: ProvisioningServer.url(tls == nil ? "http" : "https", bound)))
                }
            }))
        }
        // The request log first, so that it is stopped last, after every listener has drained.
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: log), .init(service: watcher)]
                + (sharedUploads.map { [.init(service: SharedUploadCopier(service: service, shared: $0, logger: logger))] } ?? [])
                + [.init(service: ListenerGroup(listeners: listeners))],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        service.finishUploads()
    }

    /// An HTTP or HTTPS listener over the file service.
    private func httpListener(
        _ name: String, _ address: ServerConfiguration.ListenAddress, service: FileService, limits: HTTPLimits,
        tls: TLSConfiguration?,
        onListening: @escaping @Sendable (Listener) -> Void
    ) throws -> ListenerService {
        let scheme = tls == nil ? "http" : "https"
        let context = try tls.map { try NIOSSLContext(configuration: $0) }
        let server = HTTPServer(name: name, host: address.host, port: address.port, tls: context, service: service,
                                limits: limits,
                                logger: logger) { bound in
            onListening(Listener(name: name, address: bound, phoneURL: ProvisioningServer.url(scheme, bound)))
        }
        return ListenerService(name: name, address: address, logger: logger) { try await server.run() }
    }

    /// Raises the soft limit on open descriptors to the hard limit: systemd's soft default (1,024) is used up by
    /// about a thousand connections, after which every protocol stops accepting. The new limit, or nil when it was
    /// already there or cannot be raised.
    static func raiseDescriptorLimit() -> rlim_t? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return nil }
        // A hard limit of "unlimited" is refused above the kernel's nr_open: ask for 1,048,576 then.
        let wanted = limit.rlim_max == rlim_t.max ? rlim_t(1 << 20) : limit.rlim_max
        limit.rlim_cur = wanted
        return setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? wanted : nil
    }

    /// The URL to give phones for a bound address: the machine's own address in place of `0.0.0.0`.
    static func url(_ scheme: String, _ address: SocketAddress) -> String {
        let defaultPort = ["tftp": 69, "http": 80, "https": 443, "ftp": 21][scheme]
        var host = address.ipAddress ?? "localhost"
        if host == "0.0.0.0" || host == "::" { host = primaryAddress() ?? "127.0.0.1" }
        if host.contains(":") { host = "[\(host)]" }
        let port = address.port.map { $0 == defaultPort ? "" : ":\($0)" } ?? ""
        return "\(scheme)://\(host)\(port)/"
    }

    /// The first IPv4 address of an interface that is up and not loopback.
    static func primaryAddress() -> String? {
        guard let devices = try? System.enumerateDevices() else { return nil }
        for device in devices {
            guard let address = device.address, case .v4 = address, let ip = address.ipAddress,
                  !ip.hasPrefix("127.") else { continue }
            return ip
        }
        return nil
    }
}

/// The phone URLs of the listeners that are up; PnP sends the HTTP one unless told otherwise.
final class PhoneURLs: Sendable {
    private let urls = Mutex<[String: String]>([:])

    func add(_ listener: ProvisioningServer.Listener) {
        urls.withLock { $0[listener.name] = listener.phoneURL }
    }

    var preferred: String? {
        let known = urls.withLock { $0 }
        return ["HTTP", "HTTPS", "TFTP", "FTP"].compactMap { known[$0] }.first
    }
}

/// Every listener in one service, so that SIGTERM reaches them all at once: each stops accepting at the same moment
/// and their drains run side by side. (A `ServiceGroup` signals its services one after another, each once the one
/// before has finished: TFTP answered new requests while HTTP drained, and the drains added up.) One listener that
/// fails, or stops without being told to, ends the others and the process with its error: never half alive.
struct ListenerGroup: Service {
    let listeners: [(name: String, service: any Service)]

    func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            for (name, listener) in listeners {
                group.addTask {
                    try await listener.run()
                    guard Task.isCancelled || Task.isShuttingDownGracefully else {
                        throw ListenError(description: "the \(name) listener stopped by itself")
                    }
                }
            }
        }
    }
}

/// Runs a listener and turns "permission denied" on a low port into advice.
struct ListenerService: Service {
    let name: String
    let address: ServerConfiguration.ListenAddress
    let logger: Logger
    let body: @Sendable () async throws -> Void

    func run() async throws {
        do {
            try await body()
        } catch let error as IOError where error.errnoCode == EACCES {
            throw ListenError(description: """
                cannot listen for \(name) on \(address): permission denied (ports below \(ListenerService.unprivilegedPortStart) need \
                privileges here). \
                Use an unprivileged port (e.g. --\(name.lowercased()) 0.0.0.0:\(ListenerService.unprivileged[name] ?? 8080)), \
                or allow it once with: setcap cap_net_bind_service=+ep <path to autoprov>
                """)
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw ListenError(description: "cannot listen for \(name) on \(address): the address is already in use")
        }
    }

    static let unprivileged = ["TFTP": 6969, "HTTP": 8080, "HTTPS": 8443, "FTP": 2121]

    /// The first port any user may bind (Linux's `ip_unprivileged_port_start`, 1024 unless changed).
    static var unprivilegedPortStart: Int {
        let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_unprivileged_port_start", encoding: .utf8)
        return text.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 1024
    }
}

/// A listener that could not start.
public struct ListenError: Error, CustomStringConvertible {
    public let description: String
}

extension ServerConfiguration {
    /// What the file service needs of the configuration.
    var fileServiceSettings: FileService.Settings {
        var settings = FileService.Settings(root: root, data: data)
        settings.directories = directories
        settings.logins = ftpUsers
        settings.anonymousLogin = ftpAnonymous
        settings.uploadPatterns = uploadPatterns
        settings.uploadMaximumBytes = uploadMaximumBytes
        settings.uploadCheckpointSeconds = uploadCheckpointSeconds
        settings.uploadBudgetBytes = uploadMB * 1024 * 1024
        settings.encryptionCommonKey = encryptionCommonKey
        settings.encryptionKeysFile = encryptionKeysFile
        settings.templateServerURL = templateServerURL
        settings.generatedCacheBytes = generatedCacheMB * 1024 * 1024
        settings.fileCacheBytes = fileCacheMB * 1024 * 1024
        return settings
    }
}
