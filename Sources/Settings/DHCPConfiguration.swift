import DHCP
import Foundation
import ProvisioningCore

/// The built-in DHCPv4 server (`[dhcp]`, off by default). It answers only on ``interface``, and only with addresses
/// from ``pool``: both must be given, since a DHCP server on the wrong network is an outage.
public struct DHCPConfiguration: Sendable, Hashable {
    public var interface: String
    public var pool: ClosedRange<IPv4Address>
    /// Default: the interface's own mask.
    public var subnetMask: IPv4Address?
    public var router: IPv4Address?
    public var dns: [IPv4Address] = []
    public var ntp: [IPv4Address] = []
    public var leaseSeconds: UInt32 = 86_400
    /// Fixed addresses by MAC (canonical, `00156574b150`).
    public var reservations: [String: IPv4Address] = [:]
    /// The provisioning options; `$PN` and `$MAC` are sent as written, for the phone to expand.
    public var option66 = ""
    public var option43 = ""
    /// Option 43 as this vendor sub-option (1–254) instead of the whole option.
    public var option43SubOption: Int?
    public var customOption: Int?
    public var customValue = ""
    /// The pool is on the network of relay agents (their giaddr), not the interface's: only relayed requests are
    /// answered, and ``subnetMask`` is that network's.
    public var relayed = false
    /// At most this many messages a second from one MAC (after a burst of as many).
    public var perClientRate = 10

    public init(interface: String, pool: ClosedRange<IPv4Address>) {
        self.interface = interface
        self.pool = pool
    }

    /// The provisioning options as they go on the wire.
    public var provisioningOptions: [(code: UInt8, data: [UInt8])] {
        var options: [(code: UInt8, data: [UInt8])] = []
        if let customOption, !customValue.isEmpty { options.append((UInt8(customOption), Array(customValue.utf8))) }
        if !option66.isEmpty { options.append((DHCPOption.tftpServerName, Array(option66.utf8))) }
        if !option43.isEmpty {
            let bytes = Array(option43.utf8)
            options.append((DHCPOption.vendorSpecific,
                            option43SubOption.map { [UInt8($0), UInt8(bytes.count)] + bytes } ?? bytes))
        }
        return options
    }

    static func address(_ text: String, _ key: String) throws(ConfigurationError) -> IPv4Address {
        guard let address = IPv4Address(text) else {
            throw ConfigurationError("dhcp.\(key): '\(text)' is not an IPv4 address such as 192.0.2.10")
        }
        return address
    }

    /// Reads `[dhcp]`; nil when it is absent or `enabled = false`.
    static func read(_ table: inout TableReader) throws(ConfigurationError) -> DHCPConfiguration? {
        let enabled = try table.boolean("enabled") ?? false
        let interface = try table.string("interface")
        let pool = try table.string("pool")
        let mask = try table.string("subnet_mask").flatMap { $0.isEmpty ? nil : $0 }
        let router = try table.string("router").flatMap { $0.isEmpty ? nil : $0 }
        let dns = try table.strings("dns") ?? []
        let ntp = try table.strings("ntp") ?? []
        let lease = try table.integer("lease_seconds")
        let option66 = try table.string("option66") ?? ""
        let option43 = try table.string("option43") ?? ""
        let subOption = try table.integer("option43_suboption")
        let custom = try table.integer("custom_option")
        let customValue = try table.string("custom_value") ?? ""
        let relayed = try table.boolean("relayed") ?? false
        var reservations: [String: IPv4Address] = [:]
        for var entry in try table.tables("reservation") {
            guard let macText = try entry.string("mac"), let ipText = try entry.string("ip") else {
                throw ConfigurationError("[[dhcp.reservation]] needs mac and ip", code: .missingKey)
            }
            guard let mac = try? MACAddress(macText) else {
                throw ConfigurationError("dhcp.reservation: '\(macText)' is not a MAC address such as 00:15:65:74:b1:50")
            }
            let ip = try address(ipText, "reservation.ip")
            if let other = reservations.first(where: { $0.value == ip }) {
                throw ConfigurationError("dhcp.reservation: \(ip) is reserved for both \(other.key) and \(mac.canonical)")
            }
            reservations[mac.canonical] = ip
            try entry.finish()
        }
        try table.finish()
        guard enabled else { return nil }
        guard let interface, !interface.isEmpty else {
            throw ConfigurationError("dhcp.interface is required: the built-in DHCP server answers on that interface only", code: .missingKey)
        }
        guard let pool, !pool.isEmpty else { throw ConfigurationError("dhcp.pool is required, as \"START-END\" (e.g. \"192.0.2.100-192.0.2.199\")", code: .missingKey) }
        let ends = pool.split(separator: "-").map { $0.trimmingCharacters(in: .whitespaces) }
        guard ends.count == 2 else { throw ConfigurationError("dhcp.pool: '\(pool)' must be START-END") }
        let (start, end) = (try address(ends[0], "pool"), try address(ends[1], "pool"))
        guard start <= end else { throw ConfigurationError("dhcp.pool: \(start) comes after \(end)") }
        var configuration = DHCPConfiguration(interface: interface, pool: start...end)
        configuration.subnetMask = try mask.map { text throws(ConfigurationError) in try address(text, "subnet_mask") }
        configuration.router = try router.map { text throws(ConfigurationError) in try address(text, "router") }
        configuration.dns = try dns.map { text throws(ConfigurationError) in try address(text, "dns") }
        configuration.ntp = try ntp.map { text throws(ConfigurationError) in try address(text, "ntp") }
        if let lease {
            guard (60...31_536_000).contains(lease) else {
                throw ConfigurationError("dhcp.lease_seconds: \(lease) is outside 60 to 31536000")
            }
            configuration.leaseSeconds = UInt32(lease)
        }
        configuration.reservations = reservations
        if relayed {
            guard configuration.subnetMask != nil else {
                throw ConfigurationError("dhcp.relayed needs subnet_mask: the mask of the relay agents' network", code: .missingKey)
            }
            let mask = configuration.subnetMask?.value ?? 0
            guard start.value & mask == end.value & mask else {
                throw ConfigurationError("dhcp.pool: \(start) and \(end) are not on one network with mask \(configuration.subnetMask!)")
            }
            configuration.relayed = true
        }
        for (key, value) in [("option66", option66), ("option43", option43), ("custom_value", customValue)]
        where value.utf8.count > 253 {
            throw ConfigurationError("dhcp.\(key) is \(value.utf8.count) bytes; a DHCP option holds at most 253 here")
        }
        configuration.option66 = option66
        configuration.option43 = option43
        if let subOption {
            guard (1...254).contains(subOption) else { throw ConfigurationError("dhcp.option43_suboption: \(subOption) is outside 1 to 254") }
            configuration.option43SubOption = subOption
        }
        if let custom {
            guard (128...254).contains(custom) else {
                throw ConfigurationError("dhcp.custom_option: \(custom) is outside 128 to 254 (R8.1)")
            }
            guard !customValue.isEmpty else { throw ConfigurationError("dhcp.custom_option needs custom_value", code: .missingKey) }
            configuration.customOption = custom
        }
        configuration.customValue = customValue
        return configuration
    }
}
