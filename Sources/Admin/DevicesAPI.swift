import Foundation
import Hummingbird
import Inventory
import ProvisioningCore
import Storage

/// `/api/v1/devices` and `/api/v1/groups`: the inventory's devices and groups over the same store and
/// ``InventoryEditor`` as `autoprov device` and `autoprov group`.
struct DevicesAPI {
    let editor: InventoryEditor
    var store: any InventoryStore { editor.store }

    /// A device as the API shows it; secrets masked unless asked for by a write token.
    struct Shown: Encodable {
        let mac: String
        let model: String
        let label: String
        let state: String
        let groups: [String]
        let variables: [String: String]
        let username: String
        let password: String

        init(_ device: InventoryDevice, secrets: SecretVariables, withSecrets: Bool) {
            mac = device.mac
            model = device.model
            label = device.label
            state = device.state.rawValue
            groups = device.groups
            variables = Dictionary(uniqueKeysWithValues: device.variables.map { name, value in
                (name, secrets.shown(name, value, withSecrets: withSecrets))
            })
            username = device.mac
            password = withSecrets ? device.password : SecretVariables.mask
        }
    }

    struct Page: Encodable {
        let devices: [Shown]
        /// The cursor of the next page; absent on the last.
        let next: String?
    }

    struct ShownGroup: Encodable {
        let name: String
        let variables: [String: String]
        let devices: Int
    }

    func register(on group: RouterGroup<AdminContext>) {
        group.get("devices") { request, context in try self.list(request, context) }
        group.get("devices/:mac") { request, context in try self.show(request, context) }
        group.put("devices/:mac") { request, context in try await self.put(request, context) }
        group.patch("devices/:mac") { request, context in try await self.patch(request, context) }
        group.delete("devices/:mac") { _, context in try self.delete(context) }
        group.post("devices/:mac/approve") { request, context in try self.approve(request, context) }
        group.get("groups") { _, _ in try self.groups() }
        group.get("groups/:name") { _, context in try self.group(context) }
        group.put("groups/:name") { request, context in try await self.putGroup(request, context) }
        group.delete("groups/:name") { _, context in try self.deleteGroup(context) }
    }

    // MARK: Devices

    func list(_ request: Request, _ context: AdminContext) throws -> Response {
        let query = request.uri.queryParameters
        let filter = try DevicesAPI.filter(model: query.get("model"), group: query.get("group"), state: query.get("state"),
                                           text: query.get("q"), secrets: editor.secretVariables)
        var limit = 100
        if let text = query.get("limit") {
            guard let value = Int(text), (1...1000).contains(value) else { throw APIError.badRequest("limit: 1 to 1000") }
            limit = value
        }
        let cursor = try query.get("cursor").map(DevicesAPI.mac)
        // One more than asked: whether there is a next page.
        let found = try store.devices(filter, after: cursor, limit: limit + 1)
        let page = found.prefix(limit)
        let withSecrets = try APISecrets.wanted(request, context)
        return try APIJSON.response(Page(
            devices: page.map { Shown($0, secrets: editor.secretVariables, withSecrets: withSecrets) },
            next: found.count > limit ? page.last?.mac : nil))
    }

    func show(_ request: Request, _ context: AdminContext) throws -> Response {
        try APIJSON.response(Shown(try existing(context), secrets: editor.secretVariables,
                                   withSecrets: try APISecrets.wanted(request, context)))
    }

    /// Creates the device, or replaces what it is (model, label, state, groups, variables); a secret sent back as
    /// `********` keeps its stored value, so what GET gave can be PUT back.
    func put(_ request: Request, _ context: AdminContext) async throws -> Response {
        let mac = try DevicesAPI.mac(try DevicesAPI.parameter(context, "mac"))
        let body = try await APIRequestBody(request, allowed: ["mac", "model", "label", "state", "groups", "variables", "username", "password"])
        guard let model = try body.string("model") else { throw APIError.badRequest("model: required") }
        if let sent = try body.string("mac"), (try? MACAddress(sent).canonical) != mac {
            throw APIError.conflict("mac: \(sent) is not the device of this URL (\(mac))")
        }
        let old = try store.device(mac: mac)
        var device = InventoryDevice(mac: mac, model: try DevicesAPI.model(model), password: old?.password ?? InventoryNames.newPassword())
        device.label = try body.string("label") ?? ""
        device.state = try DevicesAPI.state(try body.string("state")) ?? .active
        device.groups = try DevicesAPI.groups(try body.strings("groups") ?? [])
        device.variables = try DevicesAPI.assigned(try body.variables("variables", nulls: false) ?? [:], old: old?.variables ?? [:],
                                                   secrets: editor.secretVariables)
        if let password = try body.string("password"), password != SecretVariables.mask {
            guard !password.isEmpty else { throw APIError.badRequest("password: must not be empty") }
            device.password = password
        }
        try write([old == nil ? .addDevice(device) : .updateDevice(device)])
        return try APIJSON.response(Shown(device, secrets: editor.secretVariables, withSecrets: false),
                                    status: old == nil ? .created : .ok)
    }

    /// Changes only what the body names; a variable set to null is removed (RFC 7396).
    func patch(_ request: Request, _ context: AdminContext) async throws -> Response {
        var device = try existing(context)
        let body = try await APIRequestBody(request, allowed: ["model", "label", "state", "groups", "variables"])
        if let model = try body.string("model") { device.model = try DevicesAPI.model(model) }
        if let label = try body.string("label") { device.label = label }
        if let state = try DevicesAPI.state(try body.string("state")) { device.state = state }
        if let groups = try body.strings("groups") { device.groups = try DevicesAPI.groups(groups) }
        for (name, value) in try body.variables("variables", nulls: true) ?? [:] {
            if let problem = InventoryNames.variableNameProblem(name) { throw APIError.badRequest("variables.\(name): \(problem)") }
            device.variables[name] = value
        }
        try write([.updateDevice(device)])
        return try APIJSON.response(Shown(device, secrets: editor.secretVariables, withSecrets: false))
    }

    func delete(_ context: AdminContext) throws -> Response {
        try write([.removeDevice(mac: try existing(context).mac)])
        return Response(status: .noContent)
    }

    /// `device approve`: a pending device becomes active.
    func approve(_ request: Request, _ context: AdminContext) throws -> Response {
        var device = try existing(context)
        if device.state == .pending {
            device.state = .active
            try write([.updateDevice(device)])
        }
        return try APIJSON.response(Shown(device, secrets: editor.secretVariables, withSecrets: false))
    }

    // MARK: Groups

    func groups() throws -> Response {
        let counts = try store.deviceCounts()
        return try APIJSON.response(["groups": try store.groups().map { group in
            ShownGroup(name: group.name, variables: masked(group.variables), devices: counts[group.name] ?? 0)
        }])
    }

    func group(_ context: AdminContext) throws -> Response {
        let group = try existingGroup(context)
        return try APIJSON.response(ShownGroup(name: group.name, variables: masked(group.variables),
                                               devices: try store.deviceCounts()[group.name] ?? 0))
    }

    func putGroup(_ request: Request, _ context: AdminContext) async throws -> Response {
        let name = try DevicesAPI.parameter(context, "name")
        if let problem = InventoryNames.groupNameProblem(name) { throw APIError.badRequest("name: \(problem)") }
        let body = try await APIRequestBody(request, allowed: ["name", "variables", "devices"])
        // What GET gave may be PUT back: its device count is read only, but must be one.
        if body.has("devices"), !APIRequestBody.isInteger(body.fields["devices"]) {
            throw APIError.badRequest("devices: must be an integer (it is not written)")
        }
        if let sent = try body.string("name"), sent != name { throw APIError.conflict("name: \(sent) is not the group of this URL") }
        let old = try store.group(named: name)
        let group = InventoryGroup(name: name, variables: try DevicesAPI.assigned(
            try body.variables("variables", nulls: false) ?? [:], old: old?.variables ?? [:], secrets: editor.secretVariables))
        try write([old == nil ? .addGroup(group) : .updateGroup(group)])
        return try APIJSON.response(ShownGroup(name: name, variables: masked(group.variables),
                                               devices: try store.deviceCounts()[name] ?? 0),
                                    status: old == nil ? .created : .ok)
    }

    func deleteGroup(_ context: AdminContext) throws -> Response {
        try write([.removeGroup(name: try existingGroup(context).name)])
        return Response(status: .noContent)
    }

    // MARK: Shared

    private func masked(_ variables: [String: String]) -> [String: String] {
        Dictionary(uniqueKeysWithValues: variables.map { ($0, editor.secretVariables.shown($0, $1, withSecrets: false)) })
    }

    private func existing(_ context: AdminContext) throws -> InventoryDevice {
        let mac = try DevicesAPI.mac(try DevicesAPI.parameter(context, "mac"))
        guard let device = try store.device(mac: mac) else { throw APIError.notFound("\(InventoryError.noSuchDevice(mac))") }
        return device
    }

    private func existingGroup(_ context: AdminContext) throws -> InventoryGroup {
        let name = try DevicesAPI.parameter(context, "name")
        guard let group = try store.group(named: name) else { throw APIError.notFound("no group '\(name)'") }
        return group
    }

    /// Writes through the editor: a store refusal is 404/409, a template refusal 422 with its diagnostics.
    func write(_ changes: [InventoryChange]) throws {
        do {
            try editor.apply(changes)
        } catch InventoryEditor.Refusal.inventory(let refusal) {
            switch refusal {
            case .noSuchDevice, .noSuchGroup, .noSuchTemplate: throw APIError.conflict("\(refusal)")
            case .deviceExists, .groupExists, .groupInUse: throw APIError.conflict("\(refusal)")
            }
        } catch InventoryEditor.Refusal.templates(let problems) {
            throw APIError(status: .unprocessableContent, code: "lint",
                           message: "\(problems.count) template error(s) for the devices this changes; nothing was saved",
                           diagnostics: problems.map(APIDiagnostic.init))
        } catch let problems as TemplateProblems {
            throw APIError(status: .unprocessableContent, code: "lint", message: "the stored templates do not compile",
                           diagnostics: problems.problems.map(APIDiagnostic.init))
        }
    }

    /// The device filters as a listing names them (`model`, `group`, `state`, `q`), checked; an empty `q` is none.
    static func filter(model: String?, group: String?, state: String?, text: String?,
                       secrets: SecretVariables) throws -> DeviceFilter {
        var filter = DeviceFilter(secrets: secrets)
        filter.model = try model.map(DevicesAPI.model)
        if let group {
            if let problem = InventoryNames.groupNameProblem(group) { throw APIError.badRequest("group: \(problem)") }
            filter.group = group
        }
        filter.state = try DevicesAPI.state(state)
        filter.text = text.flatMap { $0.isEmpty ? nil : $0 }
        return filter
    }

    static func mac(_ text: String) throws -> String {
        do { return try MACAddress(text).canonical } catch { throw APIError.badRequest("mac: '\(text)': \(error)") }
    }

    /// A path parameter as sent, percent-decoded (`00%3A15%3A…` is `00:15:…`).
    static func parameter(_ context: AdminContext, _ name: String) throws -> String {
        let raw = try context.parameters.require(name)
        return raw.removingPercentEncoding ?? raw
    }

    static func model(_ text: String) throws -> String {
        guard let model = ModelCatalog.model(named: text) else { throw APIError.badRequest("model: '\(text)' is not a model autoprov knows") }
        return model.name
    }

    static func state(_ text: String?) throws -> InventoryDevice.State? {
        guard let text else { return nil }
        guard let state = InventoryDevice.State(rawValue: text) else {
            throw APIError.badRequest("state: one of \(InventoryDevice.State.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return state
    }

    static func groups(_ names: [String]) throws -> [String] {
        if let problem = names.lazy.compactMap(InventoryNames.groupNameProblem).first { throw APIError.badRequest("groups: \(problem)") }
        guard Set(names).count == names.count else { throw APIError.badRequest("groups: a group is named twice") }
        return names
    }

    /// Variables as sent, checked; a secret sent as `********` keeps its old value.
    static func assigned(_ sent: [String: String?], old: [String: String], secrets: SecretVariables) throws -> [String: String] {
        var variables: [String: String] = [:]
        for (name, value) in sent {
            if let problem = InventoryNames.variableNameProblem(name) { throw APIError.badRequest("variables.\(name): \(problem)") }
            guard let value else { continue }
            if value == SecretVariables.mask, secrets.isSecret(name) {
                guard let kept = old[name] else { throw APIError.badRequest("variables.\(name): a masked value for a variable it does not have") }
                variables[name] = kept
            } else {
                variables[name] = value
            }
        }
        return variables
    }
}

extension APIDiagnostic {
    init(_ problem: TemplateProblem) {
        self.init(path: problem.template, line: problem.line, column: problem.column, severity: "\(problem.severity)",
                  code: problem.code, message: problem.message, device: problem.device)
    }
}

/// `?secrets=true`, which only a write token may ask.
enum APISecrets {
    static func wanted(_ request: Request, _ context: AdminContext) throws -> Bool {
        guard let text = request.uri.queryParameters.get("secrets") else { return false }
        guard text == "true" || text == "false" else { throw APIError.badRequest("secrets: true or false") }
        guard text == "true" else { return false }
        guard context.role == .write else {
            throw APIError(status: .forbidden, code: "forbidden", message: "secrets: only a write token may ask for them")
        }
        return true
    }
}
