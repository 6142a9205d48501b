import Foundation
#if os(Linux)
import CLinuxShims
#endif
import ProvisioningCore
import Storage
import Synchronization

/// The files templates generate, as a server serves them: a snapshot of the store, reread when its revision moves
/// (a write from the CLI or another process), rendered on request. The caller caches the bytes it sends.
public final class GeneratedFiles: Sendable {
    let store: any InventoryStore
    let configVariables: [String: String]
    let secretVariables: SecretVariables
    public let secretsMode: SecretsMode
    private let state: Mutex<State>
    /// The revision of the snapshot in use, read without the lock (on every request that renders).
    private let currentRevision = Atomic<Int>(0)
    /// Whether the snapshot in use generates any file (``InventorySnapshot/generatesFiles``), read without the lock:
    /// a server with an empty inventory serves its root as if it had none.
    private let generating = Atomic<Bool>(false)

    struct State {
        var snapshot: InventorySnapshot
        var revision: Int
        var loaded: Date
    }

    public init(store: any InventoryStore, configVariables: [String: String] = [:],
                secretVariables: SecretVariables = SecretVariables(), secretsMode: SecretsMode = .device) throws {
        self.store = store
        self.configVariables = configVariables
        self.secretVariables = secretVariables
        self.secretsMode = secretsMode
        let revision = try store.revision()
        let snapshot = try InventorySnapshot.load(from: store, configVariables: configVariables,
                                                  secretVariables: secretVariables)
        state = Mutex(State(snapshot: snapshot, revision: revision, loaded: Date()))
        generating.store(snapshot.generatesFiles, ordering: .relaxed)
        currentRevision.store(revision, ordering: .releasing)
        GeneratedFiles.returnFreedMemory()
    }

    /// Gives the system back what reading a large inventory left free (the rows, the decoded JSON, the snapshot
    /// before): the allocator keeps it otherwise, and `serve` would stay as large as its largest read.
    static func returnFreedMemory() {
        #if os(Linux)
        clinux_trim_memory()
        #endif
    }

    /// Rereads the store when its revision moved since the last read; true when it did. Templates that no longer
    /// compile are thrown and the previous snapshot stays in use.
    public func refresh() throws -> Bool {
        let revision = try store.revision()
        guard revision != state.withLock({ $0.revision }) else { return false }
        let snapshot = try InventorySnapshot.load(from: store, configVariables: configVariables,
                                                  secretVariables: secretVariables)
        state.withLock { $0 = State(snapshot: snapshot, revision: revision, loaded: Date()) }
        generating.store(snapshot.generatesFiles, ordering: .relaxed)
        currentRevision.store(revision, ordering: .releasing)
        GeneratedFiles.returnFreedMemory()
        return true
    }

    /// Whether any name gives a generated file now: false, and no name needs a look at the snapshot.
    public var generatesFiles: Bool { generating.load(ordering: .relaxed) }

    /// The store's signals of writes, when it has them (``InventoryStore/changeSignals()``).
    public func changeSignals() -> AsyncStream<Void>? { store.changeSignals() }

    /// How many times the store reconnected (``InventoryStore/reconnections``).
    public var storeReconnections: Int { store.reconnections }

    /// The snapshot in use.
    public var snapshot: InventorySnapshot { state.withLock { $0.snapshot } }

    /// The store's revision the snapshot in use was read at.
    public var revision: Int { currentRevision.load(ordering: .acquiring) }

    /// The snapshot in use, the revision it was read at, and when (the modification time of every file it
    /// generates), together.
    public var current: (snapshot: InventorySnapshot, revision: Int, loaded: Date) {
        state.withLock { ($0.snapshot, $0.revision, $0.loaded) }
    }

    /// How many devices' own files hold a secret line (what `secrets = "open"` hands to anyone who asks).
    public func devicesWithSecrets(serverURL: String) -> Int {
        let renderer = snapshot.renderer
        return parallelMap(Array(snapshot.devices.values)) {
            renderer.deviceFile(for: $0, serverURL: serverURL)?.holdsSecrets ?? false
        }.filter { $0 }.count
    }

    /// The devices whose generated files changed since each was last told (see ``InventorySnapshot/changes(since:serverURL:)``).
    public func changes(serverURL: String) throws -> [ChangedDevice] {
        snapshot.changes(since: try store.notified(), serverURL: serverURL)
    }

    /// Adds devices the store does not have yet, each on its own (one the CLI added meanwhile is left as it is).
    func add(_ devices: [InventoryDevice]) throws {
        do {
            try store.apply(devices.map { .addDevice($0) })
        } catch InventoryError.deviceExists {
            for device in devices { try? store.apply([.addDevice(device)]) }
        }
    }

    /// Records devices as told of the files they have now (by their digests' text).
    public func recordNotified(_ files: [String: String]) throws {
        try store.recordNotified(files)
    }
}
