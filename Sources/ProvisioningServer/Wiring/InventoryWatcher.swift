import FileService
import Inventory
import Logging
import NIOPosix
import ServiceLifecycle

/// Rereads the inventory once a second when its revision moved (a write from the CLI or another process), so that
/// the next request gets the files the change renders, and no thread answers with one from before it.
struct InventoryWatcher: Service {
    let generated: GeneratedFiles
    let service: FileService
    let logger: Logger
    let serverURL: String
    var interval: Duration = .seconds(1)

    func run() async throws {
        if generated.secretsMode == .open {
            let exposed = (try? await NIOThreadPool.singleton.runIfActive { generated.devicesWithSecrets(serverURL: serverURL) }) ?? 0
            if exposed > 0 {
                logger.warning("[inventory] secrets = \"open\": \(exposed) device(s) have secret lines served to anyone who asks for their files")
            }
        }
        // A drain does not wait for the next tick.
        await cancelWhenGracefulShutdown { await watch() }
    }

    private func watch() async {
        var failing = false
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            do {
                // Off the cooperative threads: a large inventory takes a moment to read.
                let changed = try await NIOThreadPool.singleton.runIfActive { try generated.refresh() }
                failing = false
                if changed {
                    service.generatedFilesChanged()
                    logger.notice("inventory changed; generated files are rendered anew",
                                  metadata: ["devices": "\(generated.snapshot.devices.count)"])
                }
            } catch {
                // The files rendered before stay in use until the inventory reads again.
                if !failing { logger.error("cannot reread the inventory; serving what was read before", metadata: ["error": "\(error)"]) }
                failing = true
            }
        }
    }
}
