/// Where a phone can learn its provisioning server URL, in the order it prefers them (R8.1).
public enum ServerAddressSource: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Yealink's Zero Touch (redirection) service.
    case zeroTouch
    /// A SIP PnP NOTIFY (`yealink-protocols.md` §2).
    case plugAndPlay
    /// A custom DHCP option, 128–254.
    case dhcpCustomOption(UInt8)
    /// DHCP option 66 (TFTP server name).
    case dhcpOption66
    /// DHCP option 43 (vendor-specific information).
    case dhcpOption43
    /// The URL stored on the phone (`static.auto_provision.server.url`).
    case phoneFlash

    /// The custom options the phone accepts.
    public static let customOptionRange: ClosedRange<UInt8> = 128...254

    var rank: Int {
        switch self {
        case .zeroTouch: 0
        case .plugAndPlay: 1
        case .dhcpCustomOption: 2
        case .dhcpOption66: 3
        case .dhcpOption43: 4
        case .phoneFlash: 5
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.rank < rhs.rank
    }

    /// The URL the phone uses, from the sources that offered one (R8.1); a custom option outside 128–254 and
    /// a blank URL are not offers.
    public static func chosen(from offers: [ServerAddressSource: String]) -> (source: Self, url: String)? {
        offers.filter { source, url in
            if case .dhcpCustomOption(let code) = source, !customOptionRange.contains(code) { return false }
            return !url.trimmingSpaces().isEmpty
        }
        .min { $0.key < $1.key }
        .map { ($0.key, $0.value) }
    }

    public var description: String {
        switch self {
        case .zeroTouch: "Zero Touch"
        case .plugAndPlay: "PnP"
        case .dhcpCustomOption(let code): "DHCP option \(code)"
        case .dhcpOption66: "DHCP option 66"
        case .dhcpOption43: "DHCP option 43"
        case .phoneFlash: "phone flash"
        }
    }
}

/// What a phone does when it receives a SIP NOTIFY with `Event: check-sync` (R8.3, R8.4).
public enum CheckSyncResponse: String, Sendable, Hashable {
    /// Provisions, then reboots.
    case provisionAndReboot
    /// Provisions without rebooting (a reboot may still follow from R4.5).
    case provision
    /// Ignores the NOTIFY.
    case ignore

    /// The setting that decides (in the common CFG file): 0, 1 (default) or 2.
    public static let settingKey = "sip.notify_reboot_enable"

    /// R8.4: 1 (default) always reboots, 0 reboots only for `reboot=true`, 2 ignores the NOTIFY.
    public static func response(notifyRebootEnable: String?, eventRebootTrue: Bool) -> CheckSyncResponse {
        switch notifyRebootEnable?.trimmingSpaces() {
        case "0": eventRebootTrue ? .provisionAndReboot : .provision
        case "2": .ignore
        default: .provisionAndReboot
        }
    }
}
