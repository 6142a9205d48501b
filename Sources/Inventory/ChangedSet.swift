import ProvisioningCore
import Storage

/// What templates serve one device: each generated file's name and MD5 (the phone's own check, R4.4).
public struct ServedDigest: Sendable, Hashable {
    public var files: [String: String]

    public init(files: [String: String]) {
        self.files = files
    }

    /// `name=md5;name=md5`, names sorted: how the store keeps it.
    public var text: String {
        files.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ";")
    }

    public init(text: String) {
        var files: [String: String] = [:]
        for pair in text.split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { files[String(parts[0])] = String(parts[1]) }
        }
        self.files = files
    }

    /// The names whose bytes differ between the two (added, changed or gone), sorted.
    public func changedFiles(since earlier: ServedDigest) -> [String] {
        Set(files.keys).union(earlier.files.keys).filter { files[$0] != earlier.files[$0] }.sorted()
    }
}

/// A device whose served bytes differ from what it had when it was last told to provision.
public struct ChangedDevice: Sendable, Hashable {
    public var mac: String
    public var model: String
    /// Never told before.
    public var isNew: Bool
    /// The generated files whose bytes changed (all of them for a new device).
    public var files: [String]
    public var digest: ServedDigest
}

extension InventorySnapshot {
    /// What templates serve every device, rendered now, on every core. A model's common file is rendered once for
    /// all its devices.
    public func servedDigests(serverURL: String) -> [String: ServedDigest] {
        var common: [String: String] = [:]
        for model in ModelCatalog.all where common[model.commonConfigName] == nil {
            if let file = renderer.commonFile(named: model.commonConfigName, serverURL: serverURL) {
                common[model.commonConfigName] = Provisioning.md5(file.bytes)
            }
        }
        let renderer = renderer
        let digests = parallelMap(Array(devices.values)) { [common] device -> (String, ServedDigest) in
            var files: [String: String] = [:]
            if let name = ModelCatalog.model(named: device.model)?.commonConfigName, let md5 = common[name] {
                files[name] = md5
            }
            for file in [renderer.deviceFile(for: device, serverURL: serverURL), renderer.bootFile(for: device, serverURL: serverURL)] {
                if let file { files[file.name] = Provisioning.md5(file.bytes) }
            }
            return (device.mac, ServedDigest(files: files))
        }
        return Dictionary(digests, uniquingKeysWith: { first, _ in first })
    }

    /// The devices whose generated files changed since each was last told (`notified`, as the store keeps it), by
    /// MAC: found by rendering every device and comparing MD5s, so an edit that changes no byte changes nothing.
    public func changes(since notified: [String: String], serverURL: String) -> [ChangedDevice] {
        servedDigests(serverURL: serverURL).compactMap { mac, digest -> ChangedDevice? in
            guard let device = devices[mac] else { return nil }
            guard let text = notified[mac] else {
                guard !digest.files.isEmpty else { return nil }
                return ChangedDevice(mac: mac, model: device.model, isNew: true, files: digest.files.keys.sorted(),
                                     digest: digest)
            }
            let files = digest.changedFiles(since: ServedDigest(text: text))
            return files.isEmpty ? nil : ChangedDevice(mac: mac, model: device.model, isNew: false, files: files, digest: digest)
        }.sorted { $0.mac < $1.mac }
    }
}
