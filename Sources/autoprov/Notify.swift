import ArgumentParser
import Dispatch
import Foundation
import ProvisioningCore
import ProvisioningServer
import Storage
import Synchronization

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

    @Option(help: "With --all: only devices of this model.")
    var model: String?

    @Option(help: "With --all: notifications started per second (N or N/s).")
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
        guard [to != nil, mac != nil, all].filter({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --to, --mac and --all")
        }
        guard timeout > 0, perSecond > 0 else { throw ValidationError("--timeout and --rate (N or N/s) must be positive") }
        guard (username == nil) == (password == nil) else { throw ValidationError("--username and --password go together") }
    }

    func run() throws {
        try reportingFailures {
            if all {
                try notifyAll()
                return
            }
            let target: String
            if let to {
                target = to
            } else {
                let canonical: String
                do { canonical = try MACAddress(mac ?? "").canonical } catch { throw UsageFailure("\(error)") }
                guard let device = try openLog(data).device(mac: canonical) else {
                    throw UsageFailure("\(canonical) is not in the device registry of \(data)")
                }
                target = Notify.uri(for: device)
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
            return try CheckSyncNotifier(target: target, reboot: reboot, username: username, password: password,
                                         from: from, timeout: .milliseconds(Int64(timeout * 1000))).send()
        } catch {
            throw UsageFailure(error.description)
        }
    }

    /// Every known device, started at `rate` a second so that a fleet does not provision all at once.
    private func notifyAll() throws {
        var devices = try openLog(data).devices()
        if let model { devices = devices.filter { $0.model?.lowercased() == model.lowercased() } }
        let tally = Mutex<[String: Int]>([:])
        let group = DispatchGroup()
        for (index, device) in devices.enumerated() {
            if index > 0 { usleep(UInt32(1_000_000 / perSecond)) }
            let target = Notify.uri(for: device)
            DispatchQueue.global().async(group: group) {
                let result: String
                switch (try? self.send(to: target)) ?? .silent {
                case .answered(let status, _) where (200..<300).contains(status): result = "answered"
                case .answered: result = "refused"
                case .silent: result = "silent"
                }
                tally.withLock { $0[result, default: 0] += 1 }
                emit("\(device.mac) \(target): \(result)\n")
            }
        }
        group.wait()
        let counts = tally.withLock { $0 }
        emit("\(devices.count) devices: \(counts["answered"] ?? 0) answered, \(counts["refused"] ?? 0) refused, "
            + "\(counts["silent"] ?? 0) silent\n")
        if (counts["answered"] ?? 0) != devices.count { throw ExitCode(1) }
    }

    static func uri(for device: DeviceRecord) -> String {
        device.address.contains(":") ? "sip:[\(device.address)]:5060" : "sip:\(device.address):5060"
    }
}
