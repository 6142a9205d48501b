import ProvisioningCore
import Storage

/// One setting of a generated file and where it came from: the template and line that wrote its final value, and
/// the variables on that line with the source of each value.
public struct GeneratedSetting: Sendable, Hashable {
    public var key: String
    public var value: String
    public var template: TemplateLayer
    public var line: Int
    public var variables: [VariableUse]
    /// Whether the line uses a secret variable (or holds a secret's value): left out for anyone but the device.
    public var isSecret: Bool
}

/// A variable a setting's line uses.
public struct VariableUse: Sendable, Hashable {
    public var name: String
    /// Nil when no source sets it (the line rendered it empty).
    public var source: VariableSource?
    public var isSecret: Bool
}

/// A file rendered from templates: its bytes, each setting's provenance, and what lint found, by template line.
public struct GeneratedFile: Sendable {
    public var name: String
    /// The layers it was rendered from, in order.
    public var templates: [TemplateLayer]
    public var settings: [GeneratedSetting]
    public var problems: [TemplateProblem]
    /// Lines written after the header, before the settings: a boot file's includes and overwrite mode (R2).
    public var bootLines: [String] = []

    /// The file as its own device receives it: the header, then each setting once, in the order keys first
    /// appear, with the value of the last layer that sets it (R4.1).
    public var bytes: [UInt8] { serialized(redacting: false) }

    /// The file as anyone else receives it: every line that uses a secret left out, with a comment saying why.
    public var redactedBytes: [UInt8] { serialized(redacting: true) }

    /// Whether any setting uses a secret.
    public var holdsSecrets: Bool { settings.contains(where: \.isSecret) }

    func serialized(redacting: Bool) -> [UInt8] {
        var text = ConfigFile.header + "\n"
        for line in bootLines { text += line + "\n" }
        for setting in settings {
            if redacting, setting.isSecret {
                text += "# \(setting.key) left out: it holds a secret that only its own device receives\n"
            } else {
                text += setting.value.isEmpty ? "\(setting.key) =\n" : "\(setting.key) = \(setting.value)\n"
            }
        }
        return Array(text.utf8)
    }
}

/// Renders the files templates give: a model's common CFG file (defaults and the model's layer, R7.1) and a
/// device's `<mac>.cfg` (its groups' layers in its order, then its own). Pure: the caller reads the store.
public struct TemplateRenderer: Sendable {
    public var templates: [TemplateLayer: CompiledTemplate]
    public var groups: [String: InventoryGroup]
    /// `[inventory.variables]`.
    public var configVariables: [String: String]
    public var secretVariables: SecretVariables

    public init(templates: [TemplateLayer: CompiledTemplate], groups: [String: InventoryGroup],
                configVariables: [String: String] = [:], secretVariables: SecretVariables = SecretVariables()) {
        self.templates = templates
        self.groups = groups
        self.configVariables = configVariables
        self.secretVariables = secretVariables
    }

    /// Compiles the latest version of each template; every problem is reported, none is compiled halfway.
    public static func compile(_ versions: [TemplateVersion]) throws(TemplateProblems) -> [TemplateLayer: CompiledTemplate] {
        var compiled: [TemplateLayer: CompiledTemplate] = [:]
        var problems: [TemplateProblem] = []
        for version in versions {
            do throws(TemplateProblem) {
                compiled[version.layer] = try CompiledTemplate(layer: version.layer, text: version.text)
            } catch {
                problems.append(error)
            }
        }
        guard problems.isEmpty else { throw TemplateProblems(problems) }
        return compiled
    }

    /// The common CFG file of the models that request `name`, when templates apply to it.
    public func commonFile(named name: String, serverURL: String, lint: Bool = false) -> GeneratedFile? {
        let models = ModelCatalog.models(commonConfigName: name)
        guard !models.isEmpty else { return nil }
        let layers = ([TemplateLayer.defaults] + models.map { .model($0.name) }).filter { templates[$0] != nil }
        guard !layers.isEmpty else { return nil }
        let scope = VariableScope.common(models: models, config: configVariables, serverURL: serverURL)
        return render(name: name, layers: layers, scope: scope, models: models.map(\.name), device: nil, lint: lint)
    }

    /// A device's `<mac>.cfg`, when a group or device template applies to it and it is active.
    public func deviceFile(for device: InventoryDevice, serverURL: String, lint: Bool = false) -> GeneratedFile? {
        guard device.state == .active else { return nil }
        let layers = (device.groups.map { TemplateLayer.group($0) } + [.device(device.mac)]).filter { templates[$0] != nil }
        guard !layers.isEmpty else { return nil }
        let scope = VariableScope.device(device, groups: groups, config: configVariables, serverURL: serverURL)
        return render(name: device.mac + ".cfg", layers: layers, scope: scope, models: [device.model], device: device.mac,
                      lint: lint)
    }

    /// A device's `<mac>.boot` when its variable `boot` (its own, a group's or the configuration's) says so: `1` or
    /// `on` (overwrite mode on, R2.4), `keep` (overwrite mode off); empty, `0` or `off`: no boot file. It includes
    /// the model's common file and then `<mac>.cfg` (R2.2, R3.1).
    public func bootFile(for device: InventoryDevice, serverURL: String) -> GeneratedFile? {
        guard device.state == .active, let model = ModelCatalog.model(named: device.model) else { return nil }
        let scope = VariableScope.device(device, groups: groups, config: configVariables, serverURL: serverURL)
        guard let mode = scope.values[TemplateRenderer.bootVariable]?.value.lowercased(), !["", "0", "off"].contains(mode)
        else { return nil }
        return GeneratedFile(name: device.mac + ".boot", templates: [], settings: [], problems: [], bootLines: [
            "include:config \"\(model.commonConfigName)\"",
            "include:config \"\(device.mac).cfg\"",
            "overwrite_mode = \(mode == "keep" ? 0 : 1)",
        ])
    }

    /// The variable that puts a device in boot mode.
    public static let bootVariable = "boot"

    func render(name: String, layers: [TemplateLayer], scope: VariableScope, models: [String], device: String?,
                lint: Bool) -> GeneratedFile {
        var settings: [GeneratedSetting] = []
        var position: [String: Int] = [:]
        var problems: [TemplateProblem] = []
        let secretValues = scope.values.filter { secretVariables.isSecret($0.key) && $0.value.value.count >= 4 }
            .map(\.value.value)
        for layer in layers {
            guard let template = templates[layer] else { continue }
            let tagsByLine = Dictionary(grouping: template.tags.filter { !$0.isSection }, by: \.line)
            if lint { problems += unknownVariables(template, scope: scope, device: device) }
            var section: [String]?
            var lintLines: [(text: Substring, line: Int)] = []
            for (text, line) in template.render(scope) {
                if lint { lintLines.append((text, line)) }
                switch ConfigFile.kind(ofLine: String(text)) {
                case .modelSection(let listed):
                    section = listed.compactMap { ModelCatalog.model(named: $0)?.name }
                case .setting(let setting):
                    if let section, !section.contains(where: models.contains) { continue }
                    let uses = (tagsByLine[line] ?? []).map { tag in
                        VariableUse(name: tag.name, source: scope.values[tag.name]?.source,
                                    isSecret: secretVariables.isSecret(tag.name))
                    }
                    let isSecret = uses.contains(where: \.isSecret)
                        || secretValues.contains { setting.value.contains($0) }
                    let generated = GeneratedSetting(key: setting.key, value: setting.value, template: layer, line: line,
                                                     variables: uses, isSecret: isSecret)
                    if let index = position[setting.key] {
                        settings[index] = generated
                    } else {
                        position[setting.key] = settings.count
                        settings.append(generated)
                    }
                default:
                    continue
                }
            }
            if lint { problems += lintRendered(lintLines, layer: layer, fileName: name, device: device) }
        }
        return GeneratedFile(name: name, templates: layers, settings: settings, problems: problems)
    }

    /// Values a line prints that no source sets: the line would go out blank, which a phone reads as "factory
    /// default" in overwrite mode (R4.2). A tag inside a section only counts when the section renders.
    func unknownVariables(_ template: CompiledTemplate, scope: VariableScope, device: String?) -> [TemplateProblem] {
        var problems: [TemplateProblem] = []
        var reported: Set<String> = []
        for tag in template.tags where !tag.isSection && scope.values[tag.name] == nil && !reported.contains(tag.name) {
            let shown = tag.sections.allSatisfy { ($0.inverted) == (scope.values[$0.name] == nil) }
            guard shown else { continue }
            reported.insert(tag.name)
            let known = InventoryNames.builtInVariables.contains(tag.name)
            let message = tag.name == "model"
                ? "'{{model}}' renders empty: several models share this common file"
                : known ? "'{{\(tag.name)}}' has no value in this file (a model's common file has no device variables)"
                : "unknown variable '\(tag.name)': neither the device, its groups nor [inventory.variables] set it"
            problems.append(TemplateProblem(template: template.layer.path, line: tag.line, message: message,
                                            device: device, severity: tag.name == "model" ? .warning : .error,
                                            code: known ? "variable-without-value" : "unknown-variable"))
        }
        return problems
    }

    /// The phone's lint (R1, R2, R7.2) over one layer's rendered lines, mapped back to template lines.
    func lintRendered(_ lines: [(text: Substring, line: Int)], layer: TemplateLayer, fileName: String,
                      device: String?) -> [TemplateProblem] {
        var body = lines
        if let first = body.first, first.text.hasPrefix(ConfigFile.header) { body.removeFirst() }
        let text = ConfigFile.header + "\n" + body.map { String($0.text) }.joined(separator: "\n") + "\n"
        return Linter().lint(path: fileName, bytes: Array(text.utf8)).compactMap { finding in
            guard finding.line > 1 else { return nil }
            return TemplateProblem(template: layer.path, line: body[finding.line - 2].line,
                                   message: "\(finding.message) [\(finding.code)]", device: device,
                                   severity: finding.severity, code: finding.code)
        }
    }
}

/// Several template problems, one per line when printed.
public struct TemplateProblems: Error, Sendable, CustomStringConvertible {
    public var problems: [TemplateProblem]

    public init(_ problems: [TemplateProblem]) {
        self.problems = problems
    }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
