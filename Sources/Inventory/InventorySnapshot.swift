import ProvisioningCore
import Storage

/// The inventory as rendering needs it, read from a store at one moment: its devices by MAC, and a renderer over
/// its groups and the latest templates (or templates about to be saved, to lint them first).
public struct InventorySnapshot: Sendable {
    public let devices: [String: InventoryDevice]
    public let renderer: TemplateRenderer

    public init(devices: [InventoryDevice], renderer: TemplateRenderer) {
        self.devices = Dictionary(devices.map { ($0.mac, $0) }, uniquingKeysWith: { first, _ in first })
        self.renderer = renderer
    }

    /// Whether any name gives a generated file: a template (a common or a device file), or an active device (its
    /// boot file needs no template). Without either, the inventory stands aside and the root serves every name.
    public var generatesFiles: Bool {
        !renderer.templates.isEmpty || devices.values.contains { $0.state == .active }
    }

    /// Reads the store; `replacing` puts template texts in place of the stored ones (a save being checked); `device`
    /// reads that one device alone (what one phone is served needs no other: 100,000 devices are not read for it).
    /// Templates that do not compile are thrown, every one of them.
    public static func load(from store: any InventoryStore, configVariables: [String: String] = [:],
                            secretVariables: SecretVariables = SecretVariables(),
                            replacing: [TemplateLayer: String] = [:], device: String? = nil) throws -> InventorySnapshot {
        var texts = Dictionary(try store.templates().map { ($0.layer, $0.text) }, uniquingKeysWith: { _, last in last })
        texts.merge(replacing) { _, new in new }
        let compiled = try TemplateRenderer.compile(texts.map { TemplateVersion(layer: $0.key, version: 0, text: $0.value, saved: 0) })
        let groups = Dictionary(try store.groups().map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let renderer = TemplateRenderer(templates: compiled, groups: groups, configVariables: configVariables,
                                        secretVariables: secretVariables)
        let devices = try device.map { mac in try store.device(mac: mac).map { [$0] } ?? [] } ?? store.devices(DeviceFilter())
        return InventorySnapshot(devices: devices, renderer: renderer)
    }

    /// The generated file a phone asking for `name` gets, if templates make one: a device's `<mac>.cfg` or a
    /// model's common CFG file.
    public func file(named name: String, serverURL: String, lint: Bool = false) -> GeneratedFile? {
        switch ProvisioningFileName(name).kind {
        case .macConfig(let mac):
            guard name == mac.canonical + ".cfg", let device = devices[mac.canonical] else { return nil }
            return renderer.deviceFile(for: device, serverURL: serverURL, lint: lint)
        case .commonConfig:
            return renderer.commonFile(named: name, serverURL: serverURL, lint: lint)
        case .macBoot(let mac):
            guard name == mac.canonical + ".boot", let device = devices[mac.canonical] else { return nil }
            return renderer.bootFile(for: device, serverURL: serverURL)
        default:
            return nil
        }
    }

    /// Every file templates generate for one device, in the order the phone asks for them (R3.1, R3.3).
    public func files(for device: InventoryDevice, serverURL: String, lint: Bool = false) -> [GeneratedFile] {
        guard let model = ModelCatalog.model(named: device.model) else { return [] }
        return [renderer.bootFile(for: device, serverURL: serverURL),
                renderer.commonFile(named: model.commonConfigName, serverURL: serverURL, lint: lint),
                renderer.deviceFile(for: device, serverURL: serverURL, lint: lint)].compactMap { $0 }
    }

    /// What lint finds in the files of the devices a batch of device and group changes touches, rendered as they
    /// would be after it (template saves are checked by their own command): a device or group saved without a
    /// variable its templates name, or with a value that makes a line the phone rejects, is refused like a template.
    public func problems(after changes: [InventoryChange], serverURL: String) -> [TemplateProblem] {
        var devices = self.devices
        var renderer = renderer
        var touched: Set<String> = []
        var touchedGroups: Set<String> = []
        for change in changes {
            switch change {
            case .addDevice(let device), .updateDevice(let device):
                devices[device.mac] = device
                touched.insert(device.mac)
            case .removeDevice(let mac):
                devices[mac] = nil
                touched.remove(mac)
            case .addGroup(let group), .updateGroup(let group):
                renderer.groups[group.name] = group
                touchedGroups.insert(group.name)
            case .removeGroup(let name):
                renderer.groups[name] = nil
                touchedGroups.insert(name)
            case .saveTemplate, .removeTemplate:
                break
            }
        }
        if !touchedGroups.isEmpty {
            for device in devices.values where device.groups.contains(where: touchedGroups.contains) {
                touched.insert(device.mac)
            }
        }
        let checked = touched.sorted().compactMap { devices[$0] }
        let after = renderer
        return parallelMap(checked) { after.deviceFile(for: $0, serverURL: serverURL, lint: true)?.problems ?? [] }
            .flatMap { $0 }
    }

    /// What lint finds in every generated file: each common file templates make, then each device's own file.
    public func lint(serverURL: String) -> [TemplateProblem] {
        var problems: [TemplateProblem] = []
        var seen: Set<String> = []
        for model in ModelCatalog.all where seen.insert(model.commonConfigName).inserted {
            problems += renderer.commonFile(named: model.commonConfigName, serverURL: serverURL, lint: true)?.problems ?? []
        }
        // A common-file problem names the template and line once, whichever models share the template.
        var unique: [TemplateProblem] = []
        var reported: Set<TemplateProblem> = []
        for problem in problems where reported.insert(problem).inserted { unique.append(problem) }
        let renderer = renderer
        let sorted = devices.keys.sorted().compactMap { devices[$0] }
        return unique + parallelMap(sorted) { renderer.deviceFile(for: $0, serverURL: serverURL, lint: true)?.problems ?? [] }
            .flatMap { $0 }
    }
}
