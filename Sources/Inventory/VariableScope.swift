import Mustache
import ProvisioningCore
import Storage

/// Where a variable's value came from, as `resolve` prints it.
public enum VariableSource: Sendable, Hashable, CustomStringConvertible {
    /// `mac`, `MAC`, `model`, `label`, `server_url`.
    case builtIn
    case device
    case group(String)
    /// `[inventory.variables]` in the configuration file.
    case config

    public var description: String {
        switch self {
        case .builtIn: "built-in"
        case .device: "device"
        case .group(let name): "group \(name)"
        case .config: "config"
        }
    }
}

/// The variables one rendering sees, each with its source. A device's own value wins over its groups' (the last
/// group first), which win over the configuration's; built-ins cannot be set.
final class VariableScope: MustacheParent {
    private(set) var values: [String: (value: String, source: VariableSource)]

    init(values: [String: (value: String, source: VariableSource)]) {
        self.values = values
    }

    /// The scope of a model's common file: the configuration's variables, `model` and `server_url`. When several
    /// models share the file (W52P and W56P), `model` is left out: it has no single value there.
    static func common(models: [PhoneModel], config: [String: String], serverURL: String) -> VariableScope {
        var values: [String: (value: String, source: VariableSource)] = [:]
        for (name, value) in config { values[name] = (clean(value), .config) }
        if models.count == 1 { values["model"] = (models[0].name, .builtIn) }
        values["server_url"] = (serverURL, .builtIn)
        return VariableScope(values: values)
    }

    /// The scope of one device's own files.
    static func device(_ device: InventoryDevice, groups: [String: InventoryGroup], config: [String: String],
                       serverURL: String) -> VariableScope {
        var values: [String: (value: String, source: VariableSource)] = [:]
        for (name, value) in config { values[name] = (clean(value), .config) }
        for name in device.groups {
            for (variable, value) in groups[name]?.variables ?? [:] { values[variable] = (clean(value), .group(name)) }
        }
        for (name, value) in device.variables { values[name] = (clean(value), .device) }
        values["mac"] = (device.mac, .builtIn)
        values["MAC"] = (colonMAC(device.mac), .builtIn)
        values["model"] = (device.model, .builtIn)
        values["label"] = (clean(device.label), .builtIn)
        values["server_url"] = (serverURL, .builtIn)
        return VariableScope(values: values)
    }

    func child(named name: String) -> Any? {
        values[name]?.value
    }

    /// `00:15:65:74:B1:50` for `00156574b150`.
    static func colonMAC(_ mac: String) -> String {
        var result = ""
        for (index, character) in mac.uppercased().enumerated() {
            if index > 0, index % 2 == 0 { result.append(":") }
            result.append(character)
        }
        return result
    }

    /// A value as it goes into a line: a line break or other control character would start a new setting, so each
    /// becomes a space.
    static func clean(_ value: String) -> String {
        guard value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return value }
        return String(String.UnicodeScalarView(value.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
    }
}
