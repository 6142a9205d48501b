import FileService
import Foundation
import Hummingbird
import Inventory
import ProvisioningCore
import Resolution
import Storage

/// What a phone gets and what happened: a device's generated files as it is served them, the request log, and the
/// devices whose files changed since they were last told (the same calls as `render`, `log` and `changes`).
struct PhoneViewAPI {
    let editor: InventoryEditor
    let log: RequestLog?
    /// The provisioning root `serve` serves, for `/resolve`; nil: the generated files alone.
    let root: String?
    /// Phones' uploads: the MAC-local file `/resolve` applies last is the one the phone uploaded (S4).
    let uploads: UploadStore?

    struct File: Encodable {
        let name: String
        let templates: [String]
        let md5: String
        let bytes: Int
        let holdsSecrets: Bool
    }

    struct Logged: Encodable {
        let time: String
        let `protocol`: String
        let client: String
        let path: String
        let result: String
        let bytes: Int
        let seconds: Double
        let mac: String?
        let model: String?
        let firmware: String?
    }

    struct Changed: Encodable {
        let mac: String
        let model: String
        let new: Bool
        let files: [String]
    }

    func register(on group: RouterGroup<AdminContext>) {
        group.get("devices/:mac/files") { _, context in try self.files(context) }
        group.get("devices/:mac/files/:name") { request, context in try self.file(request, context) }
        group.get("devices/:mac/resolve") { request, context in try self.resolve(request, context) }
        group.get("requests") { request, _ in try self.requests(request) }
        group.get("changes") { _, _ in try self.changes() }
    }

    /// The files templates generate for the device, in the order it asks for them.
    func files(_ context: AdminContext) throws -> Response {
        let (device, snapshot) = try deviceAndSnapshot(context)
        return try APIJSON.response(["files": snapshot.files(for: device, serverURL: editor.serverURL).map { file in
            File(name: file.name, templates: file.templates.map(\.path), md5: Provisioning.md5(file.bytes),
                 bytes: file.bytes.count, holdsSecrets: file.holdsSecrets)
        }])
    }

    /// One file's bytes as its own device receives them (`ETag`: their MD5, S3); with its secret lines left out,
    /// as anyone else receives it, unless a write token asks with `?secrets=true`.
    func file(_ request: Request, _ context: AdminContext) throws -> Response {
        let (device, snapshot) = try deviceAndSnapshot(context)
        let name = try DevicesAPI.parameter(context, "name")
        guard let file = snapshot.files(for: device, serverURL: editor.serverURL).first(where: { $0.name == name }) else {
            throw APIError.notFound("templates generate no \(name) for \(device.mac)")
        }
        let bytes = try APISecrets.wanted(request, context) ? file.bytes : file.redactedBytes
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8",
                                               .eTag: "\"\(Provisioning.md5(bytes))\""],
                        body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The phone's algorithm over the root and the generated files, as `autoprov resolve --format json` prints it:
    /// each file's source, each setting's template line and variables (secrets masked unless a write token asks).
    func resolve(_ request: Request, _ context: AdminContext) throws -> Response {
        let (device, snapshot) = try deviceAndSnapshot(context)
        let (outcome, provenance) = try resolution(of: device, snapshot: snapshot,
                                                   withSecrets: try APISecrets.wanted(request, context))
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(string: try ResolveOutput.json(outcome, provenance: provenance))))
    }

    /// What the device ends up with and where each setting came from: the phone's algorithm over the root, the
    /// generated files, and the MAC-local file as serve answers for it (the phone's upload, else the root's, S4).
    func resolution(of device: InventoryDevice, snapshot: InventorySnapshot,
                    withSecrets: Bool) throws -> (ProvisioningOutcome, ResolveProvenance) {
        guard let model = ModelCatalog.model(named: device.model), let mac = try? MACAddress(device.mac) else {
            throw APIError.notFound("\(device.mac): its model \(device.model) is not in the catalog")
        }
        let localName = "\(mac.canonical)-local.cfg"
        let localURL = [uploads?.url(for: localName), root.map { URL(fileURLWithPath: $0).appendingPathComponent(localName) }]
            .compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0.path) }
        let local = localURL.flatMap { try? Data(contentsOf: $0) }.map {
            StoredLocalFile(name: localName, file: ConfigFile(bytes: Array($0)))
        }
        let phone = ProvisioningRequest(serverURL: ServerURLTemplate("tftp://autoprov.invalid/"), mac: mac, model: model,
                                        localFile: local)
        do {
            return try DeviceResolution.run(
                phone, root: root.flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil }, snapshot: snapshot,
                serverURL: editor.serverURL, withSecrets: withSecrets)
        } catch {
            throw APIError(status: .unprocessableContent, code: "resolve", message: "\(error)")
        }
    }

    /// The request log, newest first: `mac`, `protocol`, `since` (RFC 3339 or seconds since 1970), `limit` ≤ 1000.
    func requests(_ request: Request) throws -> Response {
        let query = request.uri.queryParameters
        let asked = try LogQuery(mac: query.get("mac"), protocolName: query.get("protocol"), since: query.get("since"),
                                 limit: query.get("limit"))
        let records = try log?.requests(mac: asked.mac, protocolName: asked.protocolName, since: asked.since,
                                        limit: asked.limit) ?? []
        return try APIJSON.response(["requests": records.map { record in
            Logged(time: APIJSON.time(record.time), protocol: record.protocolName, client: record.client, path: record.path,
                   result: record.result, bytes: record.bytes, seconds: record.duration, mac: record.mac,
                   model: record.model, firmware: record.firmware)
        }])
    }

    /// A request-log query (`GET /requests`, the console's log page), checked: a MAC in any spelling, a protocol,
    /// `since` as RFC 3339 or seconds since 1970, `limit` 1 to 1000 (100 when not given).
    struct LogQuery {
        static let protocols = ["tftp", "http", "https", "ftp", "sip-pnp", "dhcp"]
        var mac: String?
        var protocolName: String?
        var since: Double?
        var limit = 100

        init(mac: String?, protocolName: String?, since: String?, limit: String?) throws {
            self.mac = try mac.map(DevicesAPI.mac)
            if let protocolName, !LogQuery.protocols.contains(protocolName) {
                throw APIError.badRequest("protocol: one of \(LogQuery.protocols.joined(separator: ", "))")
            }
            self.protocolName = protocolName
            if let since {
                guard let value = Double(since) ?? PhoneViewAPI.time(since) else {
                    throw APIError.badRequest("since: an RFC 3339 time (2026-12-06T10:00:00Z) or seconds since 1970")
                }
                self.since = value
            }
            if let limit {
                guard let value = Int(limit), (1...1000).contains(value) else { throw APIError.badRequest("limit: 1 to 1000") }
                self.limit = value
            }
        }
    }

    /// The devices whose generated files changed since they were last told (`autoprov changes`).
    func changes() throws -> Response {
        let changed = try editor.snapshot().changes(since: try editor.store.notified(), serverURL: editor.serverURL)
        return try APIJSON.response(["devices": changed.map {
            Changed(mac: $0.mac, model: $0.model, new: $0.isNew, files: $0.files)
        }])
    }

    /// An RFC 3339 time, `YYYY-MM-DDTHH:MM:SS` with `Z` or an offset; fields past their range roll over (the 31st
    /// of February is the 3rd of March), as the document's pattern admits them.
    static func time(_ text: String) -> Double? {
        let pattern = #/^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(Z|([+-])(\d{2}):(\d{2}))$/#
        guard let match = text.wholeMatch(of: pattern) else { return nil }
        var components = DateComponents()
        (components.year, components.month, components.day) = (Int(match.1), Int(match.2), Int(match.3))
        (components.hour, components.minute, components.second) = (Int(match.4), Int(match.5), Int(match.6))
        var offset = 0
        if let sign = match.8, let hours = Int(match.9 ?? ""), let minutes = Int(match.10 ?? "") {
            offset = (sign == "-" ? -1 : 1) * (hours * 3600 + minutes * 60)
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: components) else { return nil }
        return date.timeIntervalSince1970 - Double(offset)
    }

    private func deviceAndSnapshot(_ context: AdminContext) throws -> (InventoryDevice, InventorySnapshot) {
        let mac = try DevicesAPI.mac(try DevicesAPI.parameter(context, "mac"))
        let snapshot = try editor.snapshot(device: mac)
        guard let device = snapshot.devices[mac] else { throw APIError.notFound("\(InventoryError.noSuchDevice(mac))") }
        return (device, snapshot)
    }
}
