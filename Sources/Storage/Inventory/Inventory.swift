import ProvisioningCore

// Inventory/: devices and groups, and the store protocol with its SQLite implementation.
/// A phone the inventory knows, by its MAC: what it is, what it is called, whether it is served, the groups whose
/// templates and variables apply to it (in order), and its own variables.
public struct InventoryDevice: Sendable, Hashable, Codable {
    /// Whether a device's own files are served.
    public enum State: String, Sendable, Hashable, Codable, CaseIterable {
        /// Served its files.
        case active
        /// Seen but not yet approved: served the common files only.
        case pending
        /// Kept, but served nothing of its own.
        case disabled
    }

    /// Canonical MAC: 12 lower-case hex digits.
    public var mac: String
    /// A catalog model name (R7).
    public var model: String
    public var label: String
    public var state: State
    /// Group names, in the order their layers apply (a later group's value for a key wins, R4.1).
    public var groups: [String]
    public var variables: [String: String]
    /// The device's own password for HTTP Digest/Basic and FTP (its user name is its MAC), made when it is added.
    public var password: String

    public init(mac: String, model: String, label: String = "", state: State = .active, groups: [String] = [],
                variables: [String: String] = [:], password: String) {
        self.mac = mac
        self.model = model
        self.label = label
        self.state = state
        self.groups = groups
        self.variables = variables
        self.password = password
    }
}

/// A set of devices that share template lines and variables.
public struct InventoryGroup: Sendable, Hashable, Codable {
    public var name: String
    public var variables: [String: String]

    public init(name: String, variables: [String: String] = [:]) {
        self.name = name
        self.variables = variables
    }
}

/// Which devices a listing wants; nil matches any.
public struct DeviceFilter: Sendable, Hashable {
    public var group: String?
    public var model: String?
    public var state: InventoryDevice.State?
    /// Text the MAC (any spelling), the label or a variable's value contains, any case; secret variables' values are
    /// never searched (a search must not tell what a secret holds).
    public var text: String?
    public var secrets: SecretVariables

    public init(group: String? = nil, model: String? = nil, state: InventoryDevice.State? = nil, text: String? = nil,
                secrets: SecretVariables = SecretVariables()) {
        self.group = group
        self.model = model
        self.state = state
        self.text = text
        self.secrets = secrets
    }

    public func matches(_ device: InventoryDevice) -> Bool {
        (group.map { device.groups.contains($0) } ?? true) && (model.map { device.model == $0 } ?? true)
            && (state.map { device.state == $0 } ?? true) && (text.map { matches(device, text: $0) } ?? true)
    }

    /// A page of the devices this filter matches: at most `limit`, by MAC, each after `after`. `rows` gives the
    /// devices after a MAC, by MAC, at most a count, with what the store's query can decide already applied; they
    /// are read in chunks, as the filters a query cannot apply (groups, text) may leave few of each.
    public func page(after: String?, limit: Int, rows: (_ after: String?, _ count: Int) throws -> [InventoryDevice])
        rethrows -> [InventoryDevice] {
        guard limit > 0 else { return [] }
        var found: [InventoryDevice] = []
        var cursor = after
        let chunk = max(limit, 500)
        while found.count < limit {
            let read = try rows(cursor, chunk)
            for device in read where matches(device) {
                found.append(device)
                if found.count == limit { break }
            }
            guard let last = read.last, read.count == chunk else { break }
            cursor = last.mac
        }
        return found
    }

    private func matches(_ device: InventoryDevice, text: String) -> Bool {
        let wanted = text.lowercased()
        let bare = wanted.filter { $0 != ":" && $0 != "-" && $0 != "." }
        if !bare.isEmpty, device.mac.contains(bare) { return true }
        if device.label.lowercased().contains(wanted) { return true }
        return device.variables.contains { name, value in !secrets.isSecret(name) && value.lowercased().contains(wanted) }
    }
}

/// One change to the inventory; a batch of them is written whole or not at all.
public enum InventoryChange: Sendable, Hashable {
    case addDevice(InventoryDevice)
    case updateDevice(InventoryDevice)
    case removeDevice(mac: String)
    case addGroup(InventoryGroup)
    case updateGroup(InventoryGroup)
    case removeGroup(name: String)
    /// A new version of a template, when its text differs from the latest one (else nothing).
    case saveTemplate(TemplateLayer, text: String)
    /// The template stops applying; its versions are kept, the last one marked removed.
    case removeTemplate(TemplateLayer)
}

/// Why a batch of changes was refused; nothing of it was written.
public enum InventoryError: Error, Sendable, Hashable, CustomStringConvertible {
    case deviceExists(String)
    case noSuchDevice(String)
    case groupExists(String)
    case noSuchGroup(String)
    /// A group that devices still name cannot be removed.
    case groupInUse(String, devices: Int)
    case noSuchTemplate(String)

    public var description: String {
        switch self {
        case .deviceExists(let mac): "device \(mac) is already in the inventory"
        case .noSuchDevice(let mac): "no device \(mac) in the inventory"
        case .groupExists(let name): "group '\(name)' already exists"
        case .noSuchGroup(let name): "no group '\(name)' (add it with: autoprov group add \(name))"
        case .noSuchTemplate(let path): "no template \(path)"
        case .groupInUse(let name, let devices): "group '\(name)' is used by \(devices) device(s); take them out first"
        }
    }
}

/// One line of ``InventoryStore/stateModelCounts()``.
public struct StateModelCount: Sendable, Hashable {
    public var state: InventoryDevice.State
    public var model: String
    public var count: Int

    public init(state: InventoryDevice.State, model: String, count: Int) {
        self.state = state
        self.model = model
        self.count = count
    }
}

/// Where devices and groups are kept. The embedded default is ``SQLiteInventory``; a store for several nodes
/// implements the same two calls, and callers do not change.
public protocol InventoryStore: Sendable {
    /// Writes a batch of changes in one transaction, after checking each against the store as the batch leaves
    /// it: all of it, or (with an ``InventoryError``) none.
    func apply(_ changes: [InventoryChange]) throws
    /// The devices a filter matches, by MAC.
    func devices(_ filter: DeviceFilter) throws -> [InventoryDevice]
    /// A page of them: at most `limit`, by MAC, each after `after` (the last MAC of the page before).
    func devices(_ filter: DeviceFilter, after: String?, limit: Int) throws -> [InventoryDevice]
    func device(mac: String) throws -> InventoryDevice?
    /// Every group, by name.
    func groups() throws -> [InventoryGroup]
    func group(named name: String) throws -> InventoryGroup?
    /// The latest version of every template, in layer order.
    func templates() throws -> [TemplateVersion]
    /// Every version of one template, oldest first.
    func versions(of layer: TemplateLayer) throws -> [TemplateVersion]
    /// How many devices name each group (groups no device names are left out).
    func deviceCounts() throws -> [String: Int]
    /// How many devices there are of each state and model, counted by the store (the console's fleet page).
    func stateModelCounts() throws -> [StateModelCount]
    /// A number every write makes larger (from any process): a server rereads the inventory when it moves.
    func revision() throws -> Int
    /// What each device was served when it was last told to provision (check-sync), by MAC: its generated files'
    /// names and MD5s, as ``recordNotified(_:)`` was given them.
    func notified() throws -> [String: String]
    /// Records what these devices were served when they were told; not a change to the inventory (no revision).
    func recordNotified(_ files: [String: String]) throws
    /// Everything the store holds, as it is (every template version, removed ones too): for a copy to another store.
    func dump() throws -> InventoryDump
    /// Writes a dump into this store, which must hold nothing yet, as it is: the same versions, times and revision.
    func load(_ dump: InventoryDump) throws
    /// A signal after each write from any process or node, as soon as the store hears of it (and once after a lost
    /// connection comes back, when writes may have been missed); nil when the store has none, and the revision is
    /// the only way to learn of a write.
    func changeSignals() -> AsyncStream<Void>?
    /// How many times the store's listening connection was made again after it was lost (0 for a store that has
    /// none): a node that reconnected drops what it rendered, whatever the revision says.
    var reconnections: Int { get }
}

extension InventoryStore {
    public func changeSignals() -> AsyncStream<Void>? { nil }
    public var reconnections: Int { 0 }
}

/// Everything an inventory store holds (``InventoryStore/dump()``), in a stable order: what `autoprov store migrate`
/// copies from one store to another, and compares after.
public struct InventoryDump: Sendable, Hashable {
    public var devices: [InventoryDevice]
    public var groups: [InventoryGroup]
    /// Every version of every template, by path and version.
    public var templates: [TemplateVersion]
    public var revision: Int
    /// By MAC: what each device was last told, and when.
    public var notified: [String: NotifiedFiles]

    public init(devices: [InventoryDevice], groups: [InventoryGroup], templates: [TemplateVersion], revision: Int,
                notified: [String: NotifiedFiles]) {
        self.devices = devices.sorted { $0.mac < $1.mac }
        self.groups = groups.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
        self.templates = templates.sorted { ($0.layer.path, $0.version) < ($1.layer.path, $1.version) }
        self.revision = revision
        self.notified = notified
    }

    public struct NotifiedFiles: Sendable, Hashable {
        public var files: String
        public var time: Double

        public init(files: String, time: Double) {
            self.files = files
            self.time = time
        }
    }
}

/// The store's database cannot be reached now (a network store down or cut off): nothing was written; try again.
public struct StoreUnavailable: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// A store that is not empty cannot take a dump (``InventoryStore/load(_:)``).
public struct InventoryNotEmpty: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "the store to copy into already holds an inventory" }
}
