import ArgumentParser
import Dispatch
import Foundation
import Inventory
import ProvisioningCore
import ProvisioningServer
import Storage

struct Notify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make phones provision now: a SIP NOTIFY with Event: check-sync.",
        discussion: """
            Sends NOTIFY (Event: check-sync;reboot=true|false) over UDP, retransmitting per RFC 3261 Timer E until a \
            final response or Timer F (32 s), and answers one 401/407 challenge with Digest (SHA-256 when offered, \
            else MD5). Prints the final response; exits 0 on 2xx, 1 otherwise. With --mac the target is the \
            device's last known address in the registry (port 5060); --all notifies every known device (or those \
            of --model), --rate a second, and prints how many answered, refused or stayed silent.
            """)

    @Option(help: "The phone, as sip:USER@HOST[:PORT].")
    var to: String?

    @Option(help: "A device from the registry (its last known address).")
    var mac: String?

    @Flag(help: "Every device in the registry.")
    var all = false

    @Flag(help: "The devices whose generated files changed since they were last told ('autoprov changes'); each that answers is recorded as told.")
    var changed = false

    @Option(help: "autoprov.toml: its [store] url (the devices several nodes share); with --changed, the templates' variables.")
    var config: String?

    @Option(help: "The SIP port of devices found in the registry.")
    var sipPort = 5060

    @Option(help: "With --all or --changed: only devices of this model.")
    var model: String?

    @Option(help: "With --all or --changed: notifications started per second (N or N/s).")
    var rate = "10"

    /// `--rate` as a number.
    var perSecond: Double { Double(rate.hasSuffix("/s") ? String(rate.dropLast(2)) : rate) ?? 0 }

    @Flag(help: "Ask the phone to reboot (reboot=true); otherwise it only provisions.")
    var reboot = false

    @Option(help: "User name for a Digest challenge.")
    var username: String?

    @Option(help: "Password for a Digest challenge.")
    var password: String?

    @Option(help: "The From URI (default sip:autoprov@<this host>).")
    var from: String?

    @Option(help: "Seconds to wait for a final response.")
    var timeout: Double = 32

    @Option(help: "The data folder (for --mac and --all).")
    var data = "autoprov-data"

    func validate() throws {
        guard [to != nil, mac != nil, all, changed].filter({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --to, --mac, --all and --changed")
        }
        guard (1...65535).contains(sipPort) else { throw ValidationError("--sip-port must be a port number") }
        guard timeout > 0, perSecond > 0 else { throw ValidationError("--timeout and --rate (N or N/s) must be positive") }
        guard (username == nil) == (password == nil) else { throw ValidationError("--username and --password go together") }
    }

    func run() throws {
        try reportingFailures {
            if all || changed {
                try notifyAll()
                return
            }
            let target: String
            if let to {
                target = to
            } else {
                let canonical: String
                do { canonical = try MACAddress(mac ?? "").canonical } catch { throw UsageFailure("\(error)") }
                guard let device = try openLog(data, config: config).device(mac: canonical) else {
                    throw UsageFailure("\(canonical) is not in the device registry of \(data)")
                }
                target = uri(for: device)
            }
            switch try send(to: target) {
            case .answered(let status, let reason):
                emit("\(target): \(status) \(reason)\n")
                if !(200..<300).contains(status) { throw ExitCode(1) }
            case .silent:
                emit("\(target): no answer within \(timeout) s\n")
                throw ExitCode(1)
            }
        }
    }

    private func send(to target: String) throws -> CheckSyncNotifier.Outcome {
        do {
            return try notifier(to: target).send()
        } catch {
            throw UsageFailure(error.description)
        }
    }

    private func notifier(to target: String) -> CheckSyncNotifier {
        CheckSyncNotifier(target: target, reboot: reboot, username: username, password: password, from: from,
                          timeout: .milliseconds(Int64(timeout * 1000)))
    }

    /// Every known device (or, with --changed, every changed one), started at `rate` a second so that a fleet does
    /// not provision all at once.
    private func notifyAll() throws {
        var devices = try openLog(data, config: config).devices()
        if let model { devices = devices.filter { $0.model?.lowercased() == model.lowercased() } }
        // With --changed: only the changed set, each recorded as told once it answers; a changed device the
        // registry has no address for stays changed.
        var changedSet: [String: ChangedDevice] = [:]
        var inventory: (any InventoryStore)?
        if changed {
            let options = try InventoryOptions.parse(["--data", data] + (config.map { ["--config", $0] } ?? []))
            let store = try options.open()
            inventory = store
            changedSet = Dictionary(uniqueKeysWithValues: try Changes.list(store, store: options).map { ($0.mac, $0) })
            let known = Set(devices.map(\.mac))
            for mac in changedSet.keys.sorted() where !known.contains(mac) {
                emit("\(mac): no known address (never seen by serve); still changed\n")
            }
            devices = devices.filter { changedSet[$0.mac] != nil }
        }
        let (counts, told) = PacedNotifier.notify(devices.map { ($0.mac, uri(for: $0)) },
                                                  digests: changedSet.mapValues(\.digest.text), perSecond: perSecond,
                                                  notifier: { self.notifier(to: $0) }) { mac, target, result in
            emit("\(mac) \(target): \(result.rawValue)\n")
        }
        if let inventory { try inventory.recordNotified(told) }
        emit("\(devices.count) devices: \(counts[.answered] ?? 0) answered, \(counts[.refused] ?? 0) refused, "
            + "\(counts[.silent] ?? 0) silent\n")
        if (counts[.answered] ?? 0) != devices.count { throw ExitCode(1) }
    }

    func uri(for device: DeviceRecord) -> String {
        PacedNotifier.uri(address: device.address, port: sipPort)
    }
}
