import ArgumentParser
import Foundation
import ProvisioningCore

struct Schedule: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show when a phone provisions next on its own (repeatedly, weekly, flexible).",
        discussion: """
            Reads the schedule settings (static.auto_provision.repeat.*, weekly.*, flexible.*) from the CFG \
            files given, later files overriding earlier ones, and prints the next window of each enabled mode \
            for a phone that last provisioned at --after (default: now), in the phone's local time. The \
            flexible day comes from the MAC and survives reboots; the phone picks a random time in the window.
            """
    )

    @Option(help: "The phone's MAC address.")
    var mac: String

    @Option(help: "The last provisioning, local time 'YYYY-MM-DD HH:MM' (default: now, UTC).")
    var after: String?

    @Argument(help: "CFG files holding the schedule settings.")
    var files: [String]

    func run() throws {
        try reportingFailures {
            let mac: MACAddress
            do { mac = try MACAddress(self.mac) } catch { throw UsageFailure("\(error)") }
            var settings: [String: String] = [:]
            for path in files {
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw UsageFailure("\(path): cannot read file")
                }
                for (setting, _, _) in ConfigFile(bytes: Array(data)).settings { settings[setting.key] = setting.value }
            }
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyy-MM-dd HH:mm"
            let now: Date
            if let after {
                guard let parsed = formatter.date(from: after) else {
                    throw UsageFailure("--after '\(after)' is not 'YYYY-MM-DD HH:MM'")
                }
                now = parsed
            } else {
                now = Date()
            }
            let windows = ProvisioningSchedule(settings: settings).windows(
                mac: mac, after: Int64(now.timeIntervalSince1970))
            guard !windows.isEmpty else {
                emit("no scheduled provisioning (repeat, weekly and flexible modes are off)\n")
                return
            }
            for window in windows {
                let earliest = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(window.earliest)))
                let latest = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(window.latest)))
                emit("\(window.mode.rawValue): " + (earliest == latest ? earliest : "\(earliest) to \(latest)") + "\n")
            }
        }
    }
}
