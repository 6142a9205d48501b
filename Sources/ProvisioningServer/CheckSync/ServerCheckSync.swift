import Admin
import Foundation
import Storage

/// The admin API's check-sync: addresses from the device registry, NOTIFYs through ``PacedNotifier`` to
/// `[inventory] notify_port`, as `autoprov notify` sends them.
struct ServerCheckSync: CheckSyncSender {
    let log: RequestLog
    let port: Int
    let defaultRate: Double

    func targets(_ macs: [String]) throws -> [(mac: String, uri: String)] {
        let wanted = Set(macs)
        return try log.devices().filter { wanted.contains($0.mac) }.sorted { $0.mac < $1.mac }
            .map { (mac: $0.mac, uri: PacedNotifier.uri(address: $0.address, port: port)) }
    }

    func notify(_ targets: [(mac: String, uri: String)], perSecond: Double, reboot: Bool,
                done: @escaping @Sendable (String, CheckSyncResult) -> Void) {
        PacedNotifier.notify(targets, perSecond: perSecond, notifier: { CheckSyncNotifier(target: $0, reboot: reboot) }) { mac, _, result in
            done(mac, CheckSyncResult(rawValue: result.rawValue) ?? .silent)
        }
    }
}
