import FileService
import Foundation
import HTTPTypes
import Hummingbird
import Inventory
import ProvisioningCore
import Resolution
import Storage

/// The console's pages over the same calls as the API: fleet, devices, one device, pending, log and check-sync jobs.
/// Posts come here checked (session, CSRF token, write role) by ``ConsoleAuthentication``.
struct ConsolePages {
    let editor: InventoryEditor
    let log: RequestLog?
    let devicesAPI: DevicesAPI
    let phoneView: PhoneViewAPI
    let checkSync: CheckSyncAPI
    let uploads: (any UploadHistory)?
    /// The server's counters: requests and errors per minute.
    let metrics: ServerMetrics?
    var store: any InventoryStore { editor.store }

    /// Rows on a page of the devices list.
    static let pageSize = 100

    func register(on group: RouterGroup<AdminContext>) {
        group.get("") { _, context in try self.fleet(context) }
        group.get("devices") { request, context in try self.devices(ConsolePages.query(request), context) }
        group.post("devices") { _, context in try self.addDevice(context) }
        group.get("devices/:mac") { request, context in
            try self.device(context, message: ConsolePages.query(request)["message"].map { "Device \($0)." })
        }
        group.post("devices/:mac") { _, context in try self.editDevice(context) }
        group.post("devices/:mac/approve") { _, context in try self.setState(context, to: .active, "approved") }
        group.post("devices/:mac/reject") { _, context in try self.setState(context, to: .disabled, "rejected (disabled)") }
        group.post("devices/:mac/delete") { _, context in try self.deleteDevice(context) }
        group.post("devices/:mac/check-sync") { _, context in try self.sendCheckSync(context) }
        group.get("devices/:mac/files/:name") { _, context in try self.file(context) }
        group.get("pending") { request, context in try self.pending(request, context) }
        group.get("log") { request, context in try self.requests(request, context) }
        group.get("jobs/:id") { request, context in try self.job(request, context) }
    }

    // MARK: Fleet

    func fleet(_ context: AdminContext) throws -> Response {
        let counts = try store.stateModelCounts()
        let states = InventoryDevice.State.allCases
        var byModel: [String: [InventoryDevice.State: Int]] = [:]
        for line in counts { byModel[line.model, default: [:]][line.state, default: 0] += line.count }
        let perState = Dictionary(grouping: counts, by: \.state).mapValues { $0.reduce(0) { $0 + $1.count } }
        let activity = try log?.activity(now: Date().timeIntervalSince1970) ?? FleetActivity()
        let values: [String: Any] = [
            "total": counts.reduce(0) { $0 + $1.count },
            "states": states.filter { $0 != .pending }.map { ["state": $0.rawValue, "count": perState[$0] ?? 0] },
            "pending": perState[.pending] ?? 0,
            "seenHour": activity.seenLastHour, "seenDay": activity.seenLastDay,
            "stateNames": states.map(\.rawValue),
            "models": byModel.keys.sorted().map { model in
                ["model": model, "counts": states.map { byModel[model]?[$0] ?? 0 }] as [String: Any]
            },
            "firmware": activity.firmware.map { ["version": $0.version, "phones": $0.phones] as [String: Any] },
            "minutes": (metrics?.perMinute() ?? []).enumerated().map { ago, minute in
                ["label": ago == 0 ? "this minute" : "\(ago) min ago", "requests": minute.requests,
                 "errors": minute.errors, "hasErrors": minute.errors > 0] as [String: Any]
            },
        ]
        return ConsoleViews.page("fleet", title: "Fleet", values: values, session: context.session)
    }

    // MARK: Devices

    /// One page of devices, by MAC, after the cursor: the store reads only that page (with 100,000 devices too).
    func devices(_ query: [String: String], _ context: AdminContext, addError: String? = nil) throws -> Response {
        let text = { (name: String) in query[name].flatMap { $0.isEmpty ? nil : $0 } }
        var filter = DeviceFilter(secrets: editor.secretVariables)
        var problem: String?
        do {
            filter = try DevicesAPI.filter(model: text("model"), group: text("group"), state: text("state"), text: text("q"),
                                           secrets: editor.secretVariables)
        } catch let error as APIError {
            problem = error.message
        }
        let after = try text("after").map(DevicesAPI.mac)
        let devices = problem == nil ? try store.devices(filter, after: after, limit: ConsolePages.pageSize + 1) : []
        let shown = devices.prefix(ConsolePages.pageSize)
        let kept: [(String, String)] = ["q", "model", "group", "state"].compactMap { name in text(name).map { (name, $0) } }
        var values: [String: Any] = [
            "q": text("q") ?? "", "model": text("model") ?? "", "limit": ConsolePages.pageSize,
            "groups": try store.groups().map { ["name": $0.name, "selected": $0.name == filter.group] as [String: Any] },
            "states": InventoryDevice.State.allCases.map { ["name": $0.rawValue, "selected": $0 == filter.state] as [String: Any] },
            "devices": shown.map { device in
                ["mac": device.mac, "model": device.model, "label": device.label, "state": device.state.rawValue,
                 "groups": device.groups.joined(separator: ", ")]
            },
        ]
        if devices.count > ConsolePages.pageSize, let last = shown.last {
            values["next"] = ConsolePages.link("/devices", kept + [("after", last.mac)])
        }
        if after != nil { values["first"] = ConsolePages.link("/devices", kept) }
        if let problem { values["problem"] = problem }
        if let addError { values["addError"] = addError }
        return ConsoleViews.page("devices", title: "Devices", values: values, session: context.session,
                                 status: problem != nil || addError != nil ? .badRequest : .ok)
    }

    /// Adds a device as `device add` does: active, a new random password, the groups named.
    func addDevice(_ context: AdminContext) throws -> Response {
        let form = context.form
        do {
            let mac = try DevicesAPI.mac(form["mac"] ?? "")
            var device = InventoryDevice(mac: mac, model: try DevicesAPI.model(form["model"] ?? ""),
                                         password: InventoryNames.newPassword())
            device.label = form["label"] ?? ""
            device.groups = try DevicesAPI.groups(ConsolePages.names(form["groups"] ?? ""))
            try devicesAPI.write([.addDevice(device)])
            return ConsoleViews.redirect("/devices/\(mac)?message=added")
        } catch let error as APIError {
            return try devices([:], context, addError: ConsolePages.say(error))
        }
    }

    func device(_ context: AdminContext, message: String? = nil, problem: String? = nil) throws -> Response {
        let mac = try ConsolePages.mac(context)
        let snapshot = try editor.snapshot(device: mac)
        guard let device = snapshot.devices[mac] else { throw ConsoleError.notFound("No device \(mac) in the inventory.") }
        let secrets = editor.secretVariables
        let shownVariables = device.variables.sorted { $0.key < $1.key }.map { name, value in
            (name, secrets.shown(name, value, withSecrets: false))
        }
        var values: [String: Any] = [
            "device": ["mac": device.mac, "model": device.model, "label": device.label, "state": device.state.rawValue,
                       "groups": device.groups.joined(separator: ", ")],
            "pending": device.state == .pending,
            "states": InventoryDevice.State.allCases.map { ["name": $0.rawValue, "selected": $0 == device.state] as [String: Any] },
            "variables": shownVariables.map { ["name": $0.0, "value": $0.1] },
            "variablesText": shownVariables.map { "\($0.0)=\($0.1)" }.joined(separator: "\n"),
            "lastSeen": try log?.device(mac: mac).map { APIJSON.time($0.lastSeen) + " UTC from " + $0.address } ?? "never",
            "files": snapshot.files(for: device, serverURL: editor.serverURL).map { file in
                ["name": file.name, "templates": file.templates.map(\.path).joined(separator: ", "),
                 "md5": Provisioning.md5(file.bytes), "bytes": file.bytes.count] as [String: Any]
            },
            "requests": try ConsolePages.rows(log?.requests(mac: mac, limit: 20) ?? []),
            "uploads": try uploadVersions(mac),
        ]
        do {
            let (outcome, provenance) = try phoneView.resolution(of: device, snapshot: snapshot, withSecrets: false)
            values["settings"] = outcome.settings.keys.sorted().compactMap { key -> [String: Any]? in
                guard let setting = outcome.settings[key], let value = setting.value else { return nil }
                let origin = provenance.origin(of: setting, key: key)
                return ["key": key, "value": provenance.shown(value, origin),
                        "file": [setting.file, setting.line.map(String.init)].compactMap { $0 }.joined(separator: ":"),
                        "origin": origin.map(ResolveProvenance.describe) ?? ""]
            }
        } catch let error as APIError {
            values["resolveProblem"] = error.message
        }
        if let message { values["message"] = message }
        if let problem { values["problem"] = problem }
        return ConsoleViews.page("device", title: "Devices", values: values, session: context.session,
                                 status: problem == nil ? .ok : .unprocessableContent)
    }

    /// The phone's uploaded local-file versions, newest first, each with what it changed against the one before.
    private func uploadVersions(_ mac: String) throws -> [[String: Any]] {
        guard let uploads else { return [] }
        let name = "\(mac)-local.cfg"
        let versions = try uploads.history(of: name)
        var previous: [String: String] = [:]
        var shown: [[String: Any]] = []
        for version in versions {
            let bytes = version.bytes
            let settings = UploadsAPI.settings(bytes)
            let changes = UploadsAPI.diff(previous, settings).map { change in
                ["key": change.key, "kind": change.kind, "old": change.old ?? "", "new": change.new ?? ""]
            }
            shown.append(["version": version.id, "time": APIJSON.time(version.time) + " UTC", "bytes": bytes.count,
                          "changes": changes])
            previous = settings
        }
        return shown.reversed()
    }

    /// Label, groups, state and variables from the edit form; a masked secret keeps its stored value.
    func editDevice(_ context: AdminContext) throws -> Response {
        let mac = try ConsolePages.mac(context)
        guard var device = try store.device(mac: mac) else { throw ConsoleError.notFound("No device \(mac) in the inventory.") }
        let form = context.form
        do {
            device.label = form["label"] ?? device.label
            device.groups = try DevicesAPI.groups(ConsolePages.names(form["groups"] ?? ""))
            if let state = try DevicesAPI.state(form["state"]) { device.state = state }
            var sent: [String: String?] = [:]
            for (number, line) in (form["variables"] ?? "").split(whereSeparator: \.isNewline).enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                guard !trimmed.isEmpty else { continue }
                guard let equals = trimmed.firstIndex(of: "=") else {
                    throw APIError.badRequest("variables, line \(number + 1): write name=value")
                }
                sent[trimmed[..<equals].trimmingCharacters(in: .whitespaces)] = String(trimmed[trimmed.index(after: equals)...])
            }
            device.variables = try DevicesAPI.assigned(sent, old: device.variables, secrets: editor.secretVariables)
            try devicesAPI.write([.updateDevice(device)])
            return ConsoleViews.redirect("/devices/\(mac)?message=saved")
        } catch let error as APIError {
            return try self.device(context, problem: ConsolePages.say(error))
        }
    }

    /// Approve (pending → active) or reject (→ disabled: its requests are refused from then on).
    func setState(_ context: AdminContext, to state: InventoryDevice.State, _ done: String) throws -> Response {
        let mac = try ConsolePages.mac(context)
        guard var device = try store.device(mac: mac) else { throw ConsoleError.notFound("No device \(mac) in the inventory.") }
        if device.state != state {
            device.state = state
            try devicesAPI.write([.updateDevice(device)])
        }
        if context.form["back"] == "/pending" { return ConsoleViews.redirect("/pending?done=\(mac)") }
        return ConsoleViews.redirect("/devices/\(mac)?message=\(done.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")")
    }

    func deleteDevice(_ context: AdminContext) throws -> Response {
        let mac = try ConsolePages.mac(context)
        try devicesAPI.write([.removeDevice(mac: mac)])
        return ConsoleViews.redirect("/devices")
    }

    /// A check-sync to this one phone, run as a job whose page follows it.
    func sendCheckSync(_ context: AdminContext) throws -> Response {
        let mac = try ConsolePages.mac(context)
        guard try store.device(mac: mac) != nil else { throw ConsoleError.notFound("No device \(mac) in the inventory.") }
        let job = try checkSync.run(macs: [mac], digests: nil, rate: checkSync.sender.defaultRate, reboot: false)
        return ConsoleViews.redirect("/jobs/\(job)?device=\(mac)")
    }

    func job(_ request: Request, _ context: AdminContext) throws -> Response {
        let id = try DevicesAPI.parameter(context, "id")
        guard let job = checkSync.jobs.shown(id) else { throw ConsoleError.notFound("No check-sync job \(id).") }
        var values: [String: Any] = [
            "running": job.state == "running", "devices": job.devices, "unknownAddress": job.unknownAddress,
            "answered": job.answered, "refused": job.refused, "silent": job.silent,
        ]
        if let device = try? ConsolePages.query(request)["device"].map(DevicesAPI.mac) { values["back"] = "/devices/\(device)" }
        var response = ConsoleViews.page("job", title: "Devices", values: values, session: context.session)
        if job.state == "running" { response.headers[HTTPField.Name("Refresh")!] = "1" }
        return response
    }

    /// One generated file as anyone but the phone receives it: its secret lines left out.
    func file(_ context: AdminContext) throws -> Response {
        let mac = try ConsolePages.mac(context)
        let name = try DevicesAPI.parameter(context, "name")
        let snapshot = try editor.snapshot(device: mac)
        guard let device = snapshot.devices[mac],
              let file = snapshot.files(for: device, serverURL: editor.serverURL).first(where: { $0.name == name }) else {
            throw ConsoleError.notFound("Templates generate no \(name) for \(mac).")
        }
        return ConsoleViews.page("file", title: "Devices", values: [
            "mac": mac, "name": name, "md5": Provisioning.md5(file.redactedBytes), "redacted": file.holdsSecrets,
            "text": String(decoding: file.redactedBytes, as: UTF8.self),
        ], session: context.session)
    }

    // MARK: Pending and log

    func pending(_ request: Request, _ context: AdminContext) throws -> Response {
        let limit = 200
        let devices = try store.devices(DeviceFilter(state: .pending), after: nil, limit: limit + 1)
        var values: [String: Any] = [
            "devices": devices.prefix(limit).map { ["mac": $0.mac, "model": $0.model, "label": $0.label] },
            "more": devices.count > limit, "shown": limit,
        ]
        if let done = try? ConsolePages.query(request)["done"].map(DevicesAPI.mac) { values["message"] = "\(done) done." }
        return ConsoleViews.page("pending", title: "Pending", values: values, session: context.session)
    }

    func requests(_ request: Request, _ context: AdminContext) throws -> Response {
        let query = ConsolePages.query(request)
        let text = { (name: String) in query[name].flatMap { $0.isEmpty ? nil : $0 } }
        var values: [String: Any] = ["mac": text("mac") ?? "", "since": text("since") ?? "", "limit": text("limit") ?? "100"]
        values["protocols"] = PhoneViewAPI.LogQuery.protocols.map { ["name": $0, "selected": $0 == text("protocol")] as [String: Any] }
        do {
            let asked = try PhoneViewAPI.LogQuery(mac: text("mac"), protocolName: text("protocol"), since: text("since"),
                                                  limit: text("limit"))
            values["requests"] = try ConsolePages.rows(log?.requests(mac: asked.mac, protocolName: asked.protocolName,
                                                                    since: asked.since, limit: asked.limit) ?? [])
        } catch let error as APIError {
            values["problem"] = error.message
        }
        return ConsoleViews.page("log", title: "Log", values: values, session: context.session,
                                 status: values["problem"] == nil ? .ok : .badRequest)
    }

    // MARK: Helpers

    static func rows(_ records: [RequestRecord]) -> [[String: Any]] {
        records.map { record in
            var row: [String: Any] = [
                "time": APIJSON.time(record.time), "protocol": record.protocolName, "client": record.client,
                "path": record.path, "result": record.result, "bytes": record.bytes, "error": !ServerMetrics.fine.contains(record.result),
            ]
            if let mac = record.mac { row["mac"] = mac }
            return row
        }
    }

    /// The query as a browser's GET form sends it (`+` a space), as a form is read.
    static func query(_ request: Request) -> [String: String] { ConsoleForm.parse(request.uri.query ?? "") }

    static func mac(_ context: AdminContext) throws -> String {
        do { return try DevicesAPI.mac(try DevicesAPI.parameter(context, "mac")) } catch let error as APIError {
            throw ConsoleError.badRequest(error.message)
        }
    }

    /// Group names as typed: separated by commas or spaces.
    static func names(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == "," || $0.isWhitespace }).map(String.init)
    }

    /// An API refusal as a sentence, with its lint diagnostics.
    static func say(_ error: APIError) -> String {
        ([error.message] + error.diagnostics.map { "\($0.path):\($0.line):\($0.column): \($0.message)" })
            .joined(separator: "\n")
    }

    /// `path?name=value&…`, each value percent-encoded.
    static func link(_ path: String, _ parameters: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let query = parameters.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }
        return query.isEmpty ? path : path + "?" + query.joined(separator: "&")
    }
}
