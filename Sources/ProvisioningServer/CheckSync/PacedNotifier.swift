import Dispatch
import Foundation
import Synchronization

/// Check-sync to many devices, started `perSecond` a second so that a fleet does not provision all at once; each
/// notification runs on its own (a silent phone holds up no other). Used by `notify --all|--changed` and by
/// `serve` with `[inventory] notify_on_change`.
public enum PacedNotifier {
    public enum Result: String, Sendable {
        case answered, refused, silent
    }

    /// Notifies every target and blocks until each has ended; `done` hears of each as it ends (on any thread).
    /// Returns how many ended each way.
    @discardableResult
    public static func notify(_ targets: [(mac: String, uri: String)], perSecond: Double,
                              notifier: @escaping @Sendable (String) -> CheckSyncNotifier,
                              done: @escaping @Sendable (_ mac: String, _ uri: String, Result) -> Void) -> [Result: Int] {
        let tally = Mutex<[Result: Int]>([:])
        let group = DispatchGroup()
        for (index, target) in targets.enumerated() {
            if index > 0 { usleep(UInt32(1_000_000 / max(perSecond, 0.001))) }
            DispatchQueue.global().async(group: group) {
                let result: Result
                switch (try? notifier(target.uri).send()) ?? .silent {
                case .answered(let status, _) where (200..<300).contains(status): result = .answered
                case .answered: result = .refused
                case .silent: result = .silent
                }
                tally.withLock { $0[result, default: 0] += 1 }
                done(target.mac, target.uri, result)
            }
        }
        group.wait()
        return tally.withLock { $0 }
    }

    /// ``notify(_:perSecond:notifier:done:)`` for devices of the changed set: also returns, for each device that
    /// answered, its entry of `digests` (what it was served), to record as told.
    public static func notify(_ targets: [(mac: String, uri: String)], digests: [String: String], perSecond: Double,
                              notifier: @escaping @Sendable (String) -> CheckSyncNotifier,
                              done: @escaping @Sendable (_ mac: String, _ uri: String, Result) -> Void)
        -> (counts: [Result: Int], told: [String: String]) {
        let told = Mutex<[String: String]>([:])
        let counts = notify(targets, perSecond: perSecond, notifier: notifier) { mac, uri, result in
            if result == .answered, let digest = digests[mac] { told.withLock { $0[mac] = digest } }
            done(mac, uri, result)
        }
        return (counts, told.withLock { $0 })
    }

    /// `sip:ADDRESS:PORT` for a device of the registry (brackets for IPv6).
    public static func uri(address: String, port: Int) -> String {
        address.contains(":") ? "sip:[\(address)]:\(port)" : "sip:\(address):\(port)"
    }
}
