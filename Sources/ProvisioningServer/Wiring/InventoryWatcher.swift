import FileService
import Foundation
import Inventory
import Logging
import NIOPosix
import ServiceLifecycle
import Storage

/// Rereads the inventory when its revision moved (a write from the CLI or another process), once a second and at once
/// when the store signals a write, so that
/// the next request gets the files the change renders, and no thread answers with one from before it. With
/// `notify_on_change`, each change is followed by a round of check-sync to the devices it reached.
struct InventoryWatcher: Service {
    let generated: GeneratedFiles
    let service: FileService
    let logger: Logger
    let serverURL: String
    /// Where to find devices' addresses, and how fast and on which port to notify them; nil: no notifications.
    var notifications: Notifications?
    var interval: Duration = .seconds(1)

    struct Notifications {
        var log: RequestLog
        var perSecond: Int
        var port: Int
    }

    func run() async throws {
        if generated.secretsMode == .open {
            let exposed = (try? await NIOThreadPool.singleton.runIfActive { generated.devicesWithSecrets(serverURL: serverURL) }) ?? 0
            if exposed > 0 {
                logger.warning("[inventory] secrets = \"open\": \(exposed) device(s) have secret lines served to anyone who asks for their files")
            }
        }
        // Rounds of notifications follow changes; changes that come during a round make one more round after it.
        let (rounds, round) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await withDiscardingTaskGroup { group in
            if let notifications {
                group.addTask {
                    for await _ in rounds { await notify(notifications) }
                }
            }
            group.addTask {
                // A drain does not wait for the next tick.
                await cancelWhenGracefulShutdown { await watch { round.yield() } }
                round.finish()
            }
        }
    }

    /// Rereads the inventory every ``interval``, and at once when the store signals a write (PostgreSQL's
    /// notifications: every node hears of a change on any other as soon as it is committed).
    private func watch(changed: @escaping @Sendable () -> Void) async {
        let (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    wake.yield()
                }
            }
            if let signals = generated.changeSignals() {
                group.addTask { for await _ in signals { wake.yield() } }
            }
            group.addTask {
                var failing = false
                var reconnections = generated.storeReconnections
                for await _ in wakes {
                    if Task.isCancelled { return }
                    do {
                        // Off the cooperative threads: a large inventory takes a moment to read.
                        let moved = try await NIOThreadPool.singleton.runIfActive { try generated.refresh() }
                        failing = false
                        // Back on the store after losing it: what was rendered before is dropped, as writes may have
                        // been missed, whether or not the revision moved.
                        if generated.storeReconnections != reconnections {
                            reconnections = generated.storeReconnections
                            if !moved { service.generatedFilesChanged() }
                            logger.notice("the store's connection is back; files rendered before are dropped")
                        }
                        if moved {
                            service.generatedFilesChanged()
                            logger.notice("inventory changed; generated files are rendered anew",
                                          metadata: ["devices": "\(generated.snapshot.devices.count)"])
                            changed()
                        }
                    } catch {
                        // The files rendered before stay in use until the inventory reads again.
                        if !failing {
                            logger.error("cannot reread the inventory; serving what was read before",
                                         metadata: ["error": "\(error)"])
                        }
                        failing = true
                    }
                }
            }
        }
    }

    /// One round: the changed devices whose address the registry knows, told at the configured pace on a thread of
    /// its own (a silent phone holds a socket for its whole timeout); each that answers is recorded as told.
    private func notify(_ notifications: Notifications) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread { [generated, logger, serverURL] in
                defer { continuation.resume() }
                do {
                    let changed = try generated.changes(serverURL: serverURL)
                    guard !changed.isEmpty else { return }
                    let digests = Dictionary(uniqueKeysWithValues: changed.map { ($0.mac, $0.digest.text) })
                    let targets = try notifications.log.devices().filter { digests[$0.mac] != nil }
                        .map { (mac: $0.mac, uri: PacedNotifier.uri(address: $0.address, port: notifications.port)) }
                    let (counts, told) = PacedNotifier.notify(targets, digests: digests,
                                                              perSecond: Double(notifications.perSecond),
                                                              notifier: { CheckSyncNotifier(target: $0, reboot: false) },
                                                              done: { _, _, _ in })
                    try generated.recordNotified(told)
                    logger.notice("check-sync sent to the devices the change reached", metadata: [
                        "changed": "\(changed.count)", "unknown-address": "\(changed.count - targets.count)",
                        "answered": "\(counts[.answered] ?? 0)", "refused": "\(counts[.refused] ?? 0)",
                        "silent": "\(counts[.silent] ?? 0)",
                    ])
                } catch {
                    logger.error("cannot notify the devices a change reached", metadata: ["error": "\(error)"])
                }
            }.start()
        }
    }
}
