import ProvisioningCore
import Storage

/// Device, group and template writes as every front-end makes them (the CLI, the admin API, the console): device and
/// group changes are checked against the stored templates for each device they touch, then the batch is written
/// whole, or nothing is.
public struct InventoryEditor: Sendable {
    public let store: any InventoryStore
    public let configVariables: [String: String]
    public let secretVariables: SecretVariables
    /// What `{{server_url}}` is while checking.
    public let serverURL: String

    public init(store: any InventoryStore, configVariables: [String: String] = [:],
                secretVariables: SecretVariables = SecretVariables(), serverURL: String) {
        self.store = store
        self.configVariables = configVariables
        self.secretVariables = secretVariables
        self.serverURL = serverURL
    }

    /// Why a batch was not written.
    public enum Refusal: Error, Sendable, CustomStringConvertible {
        /// The store refused it (no such device, a group in use, …).
        case inventory(InventoryError)
        /// The devices it touches would be served files with these problems (each names its template, line and
        /// device); at least one is an error.
        case templates([TemplateProblem])

        public var description: String {
            switch self {
            case .inventory(let error): "\(error)"
            case .templates(let problems): problems.map(\.description).joined(separator: "\n")
            }
        }
    }

    /// The stored inventory, ready to render; stored templates that do not compile are thrown (``TemplateProblems``).
    public func snapshot(replacing: [TemplateLayer: String] = [:]) throws -> InventorySnapshot {
        try InventorySnapshot.load(from: store, configVariables: configVariables, secretVariables: secretVariables,
                                   replacing: replacing)
    }

    /// The stored templates and groups with one device alone: what that device is served, without reading the others.
    public func snapshot(device mac: String) throws -> InventorySnapshot {
        try InventorySnapshot.load(from: store, configVariables: configVariables, secretVariables: secretVariables,
                                   device: mac)
    }

    /// Why a template place cannot be saved: a model not in the catalog, a group or device not in the inventory.
    public struct PlaceRefusal: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The place as it is stored: a model by its catalog name (R7.3 spellings accepted), a device by its canonical
    /// MAC; a group or device must be in the inventory.
    public func canonical(_ layer: TemplateLayer) throws -> TemplateLayer {
        switch layer {
        case .defaults:
            return layer
        case .model(let name):
            guard let model = ModelCatalog.model(named: name) else { throw PlaceRefusal(description: "'\(name)' is not a model autoprov knows") }
            return .model(model.name)
        case .group(let name):
            guard try store.group(named: name) != nil else {
                throw PlaceRefusal(description: "no group '\(name)' (add it with: autoprov group add \(name))")
            }
            return layer
        case .device(let text):
            guard let mac = try? MACAddress(text).canonical, try store.device(mac: mac) != nil else {
                throw PlaceRefusal(description: "'\(text)' is not a device in the inventory")
            }
            return .device(mac)
        }
    }

    /// Saves templates (canonical places) after checking them as they would be served: each must compile, and no
    /// file any device gets from them may have a lint error. Refused with every problem of these templates
    /// (warnings too) when any is an error; else saved, and their warnings returned. How many versions were saved:
    /// a text equal to the latest saves nothing.
    public func saveTemplates(_ texts: [TemplateLayer: String]) throws -> (saved: Int, warnings: [TemplateProblem]) {
        let problems = try check(texts)
        if problems.contains(where: { $0.severity == .error }) { throw Refusal.templates(problems) }
        let latest = Dictionary(try store.templates().map { ($0.layer, $0.text) }, uniquingKeysWith: { _, last in last })
        let saved = texts.filter { latest[$0.key] != $0.value }.count
        try apply(texts.sorted { $0.key < $1.key }.map { .saveTemplate($0.key, text: $0.value) })
        return (saved, problems)
    }

    /// What lint finds in these templates (canonical places) as they would be served, saving nothing: a template that
    /// does not compile is thrown (``Refusal/templates``), other problems returned, errors and warnings.
    public func check(_ texts: [TemplateLayer: String]) throws -> [TemplateProblem] {
        do {
            return try snapshot(replacing: texts).lint(serverURL: serverURL)
                .filter { problem in texts.keys.contains { $0.path == problem.template } }
        } catch let refused as TemplateProblems {
            throw Refusal.templates(refused.problems)
        }
    }

    /// Checks a batch of device and group changes against the stored templates, then writes it. Template saves in the
    /// batch are not checked here: their command lints the folder they come from first.
    public func apply(_ changes: [InventoryChange]) throws {
        let touchesDevices = changes.contains {
            switch $0 {
            case .saveTemplate, .removeTemplate: false
            default: true
            }
        }
        if touchesDevices, try !store.templates().isEmpty {
            let errors = try snapshot().problems(after: changes, serverURL: serverURL).filter { $0.severity == .error }
            if !errors.isEmpty { throw Refusal.templates(errors) }
        }
        do {
            try store.apply(changes)
        } catch let refused as InventoryError {
            throw Refusal.inventory(refused)
        }
    }
}
