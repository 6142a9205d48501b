import Foundation
import Inventory
import ProvisioningCore
import Synchronization

/// A phone's provisioning run against what the server would serve it: a root on disk (nil: none) and the files the
/// inventory's templates generate, which win over the root's of the same name (as `serve` answers).
public enum DeviceResolution {
    /// The outcome, and where each of its files and settings came from.
    public static func run(_ request: ProvisioningRequest, root: String?, keys: FileKeys = FileKeys(),
                           snapshot: InventorySnapshot?, serverURL: String,
                           withSecrets: Bool) throws -> (ProvisioningOutcome, ResolveProvenance) {
        let served = Mutex<[String: GeneratedFile]>([:])
        let directory = try ProvisioningRootDirectory(path: root, serverURL: request.serverURL, mac: request.mac,
                                                      keys: keys) { name in
            guard let snapshot, let file = snapshot.file(named: name, serverURL: serverURL) else { return nil }
            served.withLock { $0[name] = file }
            return file
        }
        let outcome = try Provisioning.run(request) { directory.fetch($0) }
        return (outcome, ResolveProvenance(generated: served.withLock { $0 }, withSecrets: withSecrets))
    }
}
