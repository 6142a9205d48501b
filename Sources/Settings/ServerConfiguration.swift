import ProvisioningCore
import Foundation

/// Everything `autoprov serve` needs, with the defaults documented in `autoprov.toml` (see ``exampleFile``).
public struct ServerConfiguration: Sendable, Hashable {
    /// The provisioning root: the files phones download.
    public var root = "provisioning"
    /// The data folder: database, upload store, generated certificate.
    public var data = "autoprov-data"
    /// `HOST:PORT` of each listener, or nil when `off`.
    public var tftp: ListenAddress? = ListenAddress(host: "0.0.0.0", port: 69)
    public var http: ListenAddress? = ListenAddress(host: "0.0.0.0", port: 80)
    public var https: ListenAddress? = ListenAddress(host: "0.0.0.0", port: 443)
    public var ftp: ListenAddress? = ListenAddress(host: "0.0.0.0", port: 21)
    /// Ports for FTP passive data connections, and the address to announce for them (behind NAT); empty: the
    /// address the client reached.
    public var ftpPassivePorts: ClosedRange<Int> = 50000...50100
    public var ftpPassiveAddress = ""
    /// How long the reply to EPSV is held, in microseconds (0: sent at once). curl 7.88 (Debian's) waits a second
    /// before its data connection when the reply comes back very fast: 3 files a second instead of a thousand.
    /// Phones do not need it, and a tenth of a millisecond per data connection costs them nothing they notice.
    public var ftpEPSVReplyDelayMicroseconds = 100
    /// Anonymous FTP (read only).
    public var ftpAnonymous = false
    /// FTP accounts (`[[ftp.user]]`); `[[directory]]` accounts may log in too.
    public var ftpUsers: [DirectoryAccount] = []
    /// The admin listener (the web console and the REST API under `/api/v1`), or nil when `off`: administrators
    /// only, never a phone's port.
    public var admin: ListenAddress? = ListenAddress(host: "127.0.0.1", port: 8090)
    /// Whether the admin listener speaks HTTPS, with the HTTPS listener's certificate (`[admin] tls`).
    public var adminTLS = false
    /// The SIP Plug-and-Play responder (UDP), or nil when disabled.
    public var pnp: ListenAddress? = ListenAddress(host: "0.0.0.0", port: 5060)
    /// Interfaces on which to join 224.0.1.75; empty: the one the system picks.
    public var pnpInterfaces: [String] = []
    /// The URL a PnP NOTIFY carries (`$MAC`, `$PN`, `$SERVER` filled in); empty: the HTTP listener's URL.
    public var pnpURL = ""
    /// Only phones whose MAC starts with one of these OUIs are answered; empty: any.
    public var pnpAllowOUIs = ServerConfiguration.yealinkOUIs
    /// Only phones with a `<mac>.cfg` or `<mac>.boot` in the root, or already in the device registry, are answered.
    public var pnpKnownDevicesOnly = false
    /// On-the-fly encryption (R6): the key for common CFG files, and a file of `mac,key` lines for `<mac>.cfg`.
    public var encryptionCommonKey = ""
    public var encryptionKeysFile = ""
    /// PEM files for HTTPS (and FTPS); when both are empty a self-signed pair is made once and kept in the data folder.
    public var certificate = ""
    public var privateKey = ""
    /// The TLS 1.2 suites the TLS library offers, by OpenSSL name, strongest first: what `[https] ciphers` may list.
    public static let tls12Suites = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA",
        "AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA", "AES256-SHA", "DES-CBC3-SHA",
    ]
    /// PEM bundle; when set, HTTPS clients must present a certificate it signed.
    public var clientCA = ""
    /// TLS 1.2 cipher suites by their OpenSSL names (`[https] ciphers`); empty: forward-secret AEAD suites only
    /// (`ServerCertificate.strongCiphers`). TLS 1.3 has only strong suites and is not affected.
    public var tlsCiphers: [String] = []
    /// Upload names allowed (S4), as `*`, `?` and `$MAC` patterns on the file name.
    public var uploadPatterns = ["$MAC-local.cfg", "$MAC-contact.xml"]
    /// The largest upload accepted, in bytes.
    public var uploadMaximumBytes = 1_048_576
    /// Seconds an upload stays in the journal before a checkpoint flushes the upload folder (`[uploads]
    /// checkpoint_seconds`); 0: after every batch.
    public var uploadCheckpointSeconds = 10
    /// Directories that need a user name and password (S5, activation codes R8.2).
    public var directories: [DirectoryAccount] = []
    /// HTTP and HTTPS connections open at once from one client address (S6), and the addresses or networks not
    /// counted (a proxy, or a NAT in front of more phones than that). Far below the open-file limit, far above
    /// what the phones of one site behind a NAT open at once.
    public var connectionsPerAddress = 4096
    /// HTTP and HTTPS connections open at once from all addresses (`[limits] connections`).
    public var connections = 16384
    /// FTP sessions open at once from all addresses (`[limits] ftp_sessions`).
    public var ftpSessions = 1000
    /// FTP sessions open at once from one address: well under the 1,000 sessions the server takes in all.
    public var ftpSessionsPerAddress = 256
    public var connectionsExempt: [String] = []
    /// Seconds an HTTP request head has to arrive whole, from the connection's start or its first byte (S6).
    public var headTimeoutSeconds = 10
    /// The longest HTTP request head (`[limits] head_bytes`; S6): its target and header names and values together; a
    /// phone's is under 1 KB, a longer one gets 431.
    public var headBytes = 16384
    public static let headBytesRange = 1024...65536
    /// Seconds an FTP session has to log in (a person at an FTP prompt types a password meanwhile).
    public var ftpLoginTimeoutSeconds = 60
    /// TFTP requests answered at once, in all and from one address (each holds a socket; S6).
    public var tftpMaximumTransfers = 4096
    public var tftpMaximumTransfersPerAddress = 256
    /// Memory for uploads received and not yet stored, from all clients at once, in MB (`[limits] upload_mb`).
    public var uploadMB = 64
    /// Memory for files of the root and the upload store kept in memory, in MB (`[limits] file_cache_mb`).
    public var fileCacheMB = 64
    /// Variables whose values are secret (`[inventory] secret_variables`): masked in listings and exports.
    public var secretVariables = SecretVariables.defaultPatterns
    /// Variables every template sees, below the device's and its groups' (`[inventory.variables]`).
    public var inventoryVariables: [String: String] = [:]
    /// What `{{server_url}}` is where no phone's request says (`render`, `resolve`, `template lint`); empty: the
    /// HTTP listener's URL.
    public var inventoryServerURL = ""
    /// Who receives a generated file's secret lines (`[inventory] secrets`).
    public var inventorySecrets = SecretsMode.device
    /// Where the inventory is kept (`[store] url`): nil, SQLite in the data folder; else a `postgresql://` URL that
    /// several nodes share.
    public var storeURL: String?
    /// A file holding the PostgreSQL password when the URL has none (`[store] password_file`); else `PGPASSWORD`.
    public var storePasswordFile: String?
    /// Seconds between a node's looks at the inventory's revision (`[store] poll_seconds`); with PostgreSQL a write
    /// also reaches every node at once by notification, and the look only catches one that was missed.
    public var storePollSeconds = 1
    /// Whether `serve` tells the devices a change reached (check-sync), by itself, `notifyRate` a second, on
    /// `notifyPort` at the address the registry has for each.
    public var notifyOnChange = false
    /// Memory for generated files kept rendered, in MB (`[inventory] cache_mb`).
    public var generatedCacheMB = 96
    /// Unknown phones added as pending, at most this many from one address (0: none are added).
    public var pendingPerAddress = 100
    /// OUIs and models whose unknown phones are added active (`[inventory] auto_approve`); empty: none.
    public var autoApprove: [String] = []
    public var notifyRate = 10
    public var notifyPort = 5060
    /// The built-in DHCP server, or nil (the default).
    public var dhcp: DHCPConfiguration?

    public init() {}

    /// A `HOST:PORT` listener address.
    public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// Parses `HOST:PORT`, `[IPv6]:PORT` or `off` (nil).
        public static func parse(_ text: String) throws(ConfigurationError) -> ListenAddress? {
            if text == "off" { return nil }
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
                  (0...65535).contains(port)
            else { throw ConfigurationError("'\(text)' is not HOST:PORT or off") }
            var host = String(text[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { throw ConfigurationError("'\(text)' has no host") }
            return ListenAddress(host: host, port: port)
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }
}

extension ServerConfiguration {
    /// Reads `autoprov.toml`: unknown keys and wrong types are errors naming the file and line or key.
    public static func load(file: String) throws(ConfigurationError) -> ServerConfiguration {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigurationError("cannot read the configuration file", code: .unreadableFile, file: file)
        }
        let table: [String: TOMLValue]
        do {
            table = try TOML.parse(String(decoding: data, as: UTF8.self))
        } catch {
            throw error.located(in: file)
        }
        do {
            return try ServerConfiguration(table: table)
        } catch {
            throw error.located(in: file)
        }
    }

    init(table: [String: TOMLValue]) throws(ConfigurationError) {
        self.init()
        var reader = TableReader(table: table, name: "")
        root = try reader.string("root") ?? root
        data = try reader.string("data") ?? data
        if var tftpTable = try reader.table("tftp") {
            if let listen = try tftpTable.string("listen") { tftp = try ListenAddress.parse(listen) }
            try tftpTable.finish()
        }
        if var httpTable = try reader.table("http") {
            if let listen = try httpTable.string("listen") { http = try ListenAddress.parse(listen) }
            try httpTable.finish()
        }
        if var adminTable = try reader.table("admin") {
            if let listen = try adminTable.string("listen") { admin = try ListenAddress.parse(listen) }
            if let tls = try adminTable.boolean("tls") { adminTLS = tls }
            try adminTable.finish()
        }
        if var httpsTable = try reader.table("https") {
            if let listen = try httpsTable.string("listen") { https = try ListenAddress.parse(listen) }
            certificate = try httpsTable.string("certificate") ?? certificate
            privateKey = try httpsTable.string("private_key") ?? privateKey
            clientCA = try httpsTable.string("client_ca") ?? clientCA
            tlsCiphers = try httpsTable.strings("ciphers") ?? tlsCiphers
            if let unknown = tlsCiphers.first(where: { !ServerConfiguration.tls12Suites.contains($0) }) {
                throw ConfigurationError("https.ciphers: \"\(unknown)\" is no TLS 1.2 suite this server has; it has "
                                         + ServerConfiguration.tls12Suites.joined(separator: ", "))
            }
            try httpsTable.finish()
        }
        if var ftpTable = try reader.table("ftp") {
            if let listen = try ftpTable.string("listen") { ftp = try ListenAddress.parse(listen) }
            if let range = try ftpTable.string("passive_ports") { ftpPassivePorts = try ServerConfiguration.portRange(range) }
            ftpPassiveAddress = try ftpTable.string("passive_address") ?? ftpPassiveAddress
            ftpAnonymous = try ftpTable.boolean("anonymous") ?? ftpAnonymous
            ftpEPSVReplyDelayMicroseconds = try ftpTable.integer("epsv_reply_delay_us") ?? ftpEPSVReplyDelayMicroseconds
            guard (0...100_000).contains(ftpEPSVReplyDelayMicroseconds) else {
                throw ConfigurationError("ftp.epsv_reply_delay_us must be between 0 and 100000, not \(ftpEPSVReplyDelayMicroseconds)")
            }
            for var user in try ftpTable.tables("user") {
                guard let username = try user.string("username"), let password = try user.string("password") else {
                    throw ConfigurationError("[[ftp.user]] needs username and password", code: .missingKey)
                }
                ftpUsers.append(DirectoryAccount(path: "", username: username, password: password))
                try user.finish()
            }
            try ftpTable.finish()
        }
        if var pnpTable = try reader.table("pnp") {
            if try pnpTable.boolean("enabled") == false { pnp = nil }
            if let listen = try pnpTable.string("listen"), pnp != nil { pnp = try ListenAddress.parse(listen) }
            pnpInterfaces = try pnpTable.strings("interfaces") ?? pnpInterfaces
            pnpURL = try pnpTable.string("url") ?? pnpURL
            if let ouis = try pnpTable.strings("allow_ouis") {
                pnpAllowOUIs = try ouis.map { text throws(ConfigurationError) in
                    let digits = text.filter(\.isHexDigit)
                    guard digits.count == 6, text.count <= 8 else {
                        throw ConfigurationError("pnp.allow_ouis: '\(text)' is not an OUI such as 00:15:65")
                    }
                    let d = Array(digits.lowercased())
                    return "\(d[0])\(d[1]):\(d[2])\(d[3]):\(d[4])\(d[5])"
                }
            }
            pnpKnownDevicesOnly = try pnpTable.boolean("known_devices_only") ?? pnpKnownDevicesOnly
            try pnpTable.finish()
        }
        if var store = try reader.table("store") {
            if let url = try store.string("url"), !url.isEmpty {
                guard url.hasPrefix("postgresql://") || url.hasPrefix("postgres://") else {
                    throw ConfigurationError("store.url must be a postgresql://USER@HOST[:PORT]/DATABASE URL, not '\(url)'",
                                             code: .badValue)
                }
                storeURL = url
            }
            storePasswordFile = try store.string("password_file")
            storePollSeconds = try store.integer("poll_seconds") ?? storePollSeconds
            guard storePollSeconds > 0 else { throw ConfigurationError("store.poll_seconds must be positive") }
            try store.finish()
        }
        if var inventory = try reader.table("inventory") {
            secretVariables = try inventory.strings("secret_variables") ?? secretVariables
            inventoryServerURL = try inventory.string("server_url") ?? inventoryServerURL
            notifyOnChange = try inventory.boolean("notify_on_change") ?? notifyOnChange
            generatedCacheMB = try inventory.integer("cache_mb") ?? generatedCacheMB
            guard generatedCacheMB >= 0 else { throw ConfigurationError("inventory.cache_mb must be 0 or more") }
            pendingPerAddress = try inventory.integer("pending_per_address") ?? pendingPerAddress
            autoApprove = try inventory.strings("auto_approve") ?? autoApprove
            for entry in autoApprove {
                let hex = entry.filter { $0 != ":" && $0 != "-" }
                guard ModelCatalog.model(named: entry) != nil || (hex.count == 6 && hex.allSatisfy(\.isHexDigit)) else {
                    throw ConfigurationError("inventory.auto_approve: '\(entry)' is neither an OUI (00:15:65) nor a model autoprov knows")
                }
            }
            guard pendingPerAddress >= 0 else { throw ConfigurationError("inventory.pending_per_address must be 0 or more") }
            notifyRate = try inventory.integer("notify_rate") ?? notifyRate
            notifyPort = try inventory.integer("notify_port") ?? notifyPort
            guard notifyRate > 0, (1...65535).contains(notifyPort) else {
                throw ConfigurationError("inventory.notify_rate must be positive and inventory.notify_port a port number")
            }
            if let mode = try inventory.string("secrets") {
                guard let parsed = SecretsMode(rawValue: mode) else {
                    throw ConfigurationError("inventory.secrets must be \"device\" or \"open\", not '\(mode)'")
                }
                inventorySecrets = parsed
            }
            if var variables = try inventory.table("variables") {
                for name in variables.table.keys.sorted() {
                    guard InventoryNames.isVariableName(name), !InventoryNames.builtInVariables.contains(name) else {
                        throw ConfigurationError(
                            "inventory.variables.\(name): not a variable name that may be set (a letter or '_', then "
                                + "letters, digits and '_'; not \(InventoryNames.builtInVariables.sorted().joined(separator: ", ")))",
                            code: .badValue)
                    }
                    inventoryVariables[name] = try variables.string(name)
                }
            }
            try inventory.finish()
        }
        if var dhcpTable = try reader.table("dhcp") { dhcp = try DHCPConfiguration.read(&dhcpTable) }
        if var encryption = try reader.table("encryption") {
            encryptionCommonKey = try encryption.string("common_key") ?? encryptionCommonKey
            encryptionKeysFile = try encryption.string("keys") ?? encryptionKeysFile
            try encryption.finish()
        }
        if var uploads = try reader.table("uploads") {
            uploadPatterns = try uploads.strings("allow") ?? uploadPatterns
            uploadMaximumBytes = try uploads.integer("max_bytes") ?? uploadMaximumBytes
            uploadCheckpointSeconds = try uploads.integer("checkpoint_seconds") ?? uploadCheckpointSeconds
            guard (0...3600).contains(uploadCheckpointSeconds) else {
                throw ConfigurationError("uploads.checkpoint_seconds must be between 0 and 3600, not \(uploadCheckpointSeconds)")
            }
            try uploads.finish()
        }
        if var limits = try reader.table("limits") {
            connectionsPerAddress = try limits.integer("connections_per_address") ?? connectionsPerAddress
            connections = try limits.integer("connections") ?? connections
            ftpSessions = try limits.integer("ftp_sessions") ?? ftpSessions
            ftpSessionsPerAddress = try limits.integer("ftp_sessions_per_address") ?? ftpSessionsPerAddress
            connectionsExempt = try limits.strings("connections_exempt") ?? connectionsExempt
            for entry in connectionsExempt { _ = try AddressRange(entry) }
            headTimeoutSeconds = try limits.integer("head_timeout_seconds") ?? headTimeoutSeconds
            headBytes = try limits.integer("head_bytes") ?? headBytes
            guard ServerConfiguration.headBytesRange.contains(headBytes) else {
                throw ConfigurationError("limits.head_bytes must be between 1024 and 65536 (it is \(headBytes))")
            }
            ftpLoginTimeoutSeconds = try limits.integer("ftp_login_timeout_seconds") ?? ftpLoginTimeoutSeconds
            tftpMaximumTransfers = try limits.integer("tftp_transfers") ?? tftpMaximumTransfers
            tftpMaximumTransfersPerAddress = try limits.integer("tftp_transfers_per_address")
                ?? tftpMaximumTransfersPerAddress
            fileCacheMB = try limits.integer("file_cache_mb") ?? fileCacheMB
            uploadMB = try limits.integer("upload_mb") ?? uploadMB
            guard fileCacheMB >= 0 else { throw ConfigurationError("limits.file_cache_mb must be 0 or more") }
            for (key, value) in [("connections_per_address", connectionsPerAddress), ("connections", connections),
                                 ("ftp_sessions", ftpSessions),
                                 ("ftp_sessions_per_address", ftpSessionsPerAddress),
                                 ("head_timeout_seconds", headTimeoutSeconds),
                                 ("ftp_login_timeout_seconds", ftpLoginTimeoutSeconds), ("tftp_transfers", tftpMaximumTransfers),
                                 ("tftp_transfers_per_address", tftpMaximumTransfersPerAddress),
                                 ("upload_mb", uploadMB)] where value < 1 {
                throw ConfigurationError("limits.\(key) must be at least 1")
            }
            try limits.finish()
        }
        for var entry in try reader.tables("directory") {
            guard let path = try entry.string("path"), let username = try entry.string("username"),
                  let password = try entry.string("password")
            else { throw ConfigurationError("[[directory]] needs path, username and password", code: .missingKey) }
            directories.append(DirectoryAccount(path: path, username: username, password: password))
            try entry.finish()
        }
        try reader.finish()
    }
}

extension ServerConfiguration {
    /// Yealink's MAC prefixes (yealink-protocols.md §4.1).
    public static let yealinkOUIs = MACAddress.yealinkOUIs

    /// `LOW-HIGH`, both unprivileged ports.
    static func portRange(_ text: String) throws(ConfigurationError) -> ClosedRange<Int> {
        let parts = text.split(separator: "-")
        guard parts.count == 2, let low = Int(parts[0]), let high = Int(parts[1]), 1024 <= low, low <= high, high <= 65535
        else { throw ConfigurationError("ftp.passive_ports must be LOW-HIGH between 1024 and 65535, not '\(text)'") }
        return low...high
    }
}

/// Reads a TOML table key by key and complains about keys nobody asked for.
struct TableReader {
    var table: [String: TOMLValue]
    let name: String

    private func qualified(_ key: String) -> String { name.isEmpty ? key : "\(name).\(key)" }

    mutating func string(_ key: String) throws(ConfigurationError) -> String? {
        guard let value = table.removeValue(forKey: key) else { return nil }
        guard case .string(let text) = value else { throw ConfigurationError("\(qualified(key)) must be a string", code: .wrongType) }
        return text
    }

    mutating func integer(_ key: String) throws(ConfigurationError) -> Int? {
        guard let value = table.removeValue(forKey: key) else { return nil }
        guard case .integer(let number) = value else { throw ConfigurationError("\(qualified(key)) must be an integer", code: .wrongType) }
        return number
    }

    mutating func boolean(_ key: String) throws(ConfigurationError) -> Bool? {
        guard let value = table.removeValue(forKey: key) else { return nil }
        guard case .boolean(let flag) = value else { throw ConfigurationError("\(qualified(key)) must be true or false", code: .wrongType) }
        return flag
    }

    mutating func strings(_ key: String) throws(ConfigurationError) -> [String]? {
        guard let value = table.removeValue(forKey: key) else { return nil }
        guard case .array(let values) = value else { throw ConfigurationError("\(qualified(key)) must be an array", code: .wrongType) }
        var result: [String] = []
        for element in values {
            guard case .string(let text) = element else {
                throw ConfigurationError("\(qualified(key)) must hold strings", code: .wrongType)
            }
            result.append(text)
        }
        return result
    }

    mutating func table(_ key: String) throws(ConfigurationError) -> TableReader? {
        guard let value = table.removeValue(forKey: key) else { return nil }
        guard case .table(let inner) = value else { throw ConfigurationError("[\(qualified(key))] must be a table", code: .wrongType) }
        return TableReader(table: inner, name: qualified(key))
    }

    mutating func tables(_ key: String) throws(ConfigurationError) -> [TableReader] {
        guard let value = table.removeValue(forKey: key) else { return [] }
        guard case .tableArray(let inner) = value else {
            throw ConfigurationError("\(qualified(key)) must be written [[\(qualified(key))]]", code: .wrongType)
        }
        return inner.map { TableReader(table: $0, name: qualified(key)) }
    }

    func finish() throws(ConfigurationError) {
        if let unknown = table.keys.sorted().first {
            throw ConfigurationError("unknown key '\(qualified(unknown))'", code: .unknownKey)
        }
    }
}

extension ServerConfiguration {
    /// `{{server_url}}` where no request says it: `[inventory] server_url`, else the HTTP listener's URL (this host's
    /// name for a wildcard address), else `http://localhost/`.
    public var templateServerURL: String {
        if !inventoryServerURL.isEmpty { return inventoryServerURL }
        guard let http else { return "http://localhost/" }
        var host = ["0.0.0.0", "::"].contains(http.host) ? ProcessInfo.processInfo.hostName : http.host
        if host.contains(":") { host = "[\(host)]" }
        return http.port == 80 ? "http://\(host)/" : "http://\(host):\(http.port)/"
    }
}
