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
        /// The devices it touches would be served files with these errors (each names its template, line and device).
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

    /// Checks a batch of device and group changes against the stored templates, then writes it. Template saves in the
    /// batch are not checked here: their command lints the folder they come from first.
    public func apply(_ changes: [InventoryChange]) throws {
        let touchesDevices = changes.contains { if case .saveTemplate = $0 { false } else { true } }
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
