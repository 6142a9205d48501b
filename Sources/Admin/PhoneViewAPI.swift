import Foundation
import Hummingbird
import Inventory
import ProvisioningCore
import Storage

/// What a phone gets and what happened: a device's generated files as it is served them, the request log, and the
/// devices whose files changed since they were last told (the same calls as `render`, `log` and `changes`).
struct PhoneViewAPI {
    let editor: InventoryEditor
    let log: RequestLog?

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
        let name = try context.parameters.require("name")
        guard let file = snapshot.files(for: device, serverURL: editor.serverURL).first(where: { $0.name == name }) else {
            throw APIError.notFound("templates generate no \(name) for \(device.mac)")
        }
        let bytes = try APISecrets.wanted(request, context) ? file.bytes : file.redactedBytes
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8",
                                               .eTag: "\"\(Provisioning.md5(bytes))\""],
                        body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The request log, newest first: `mac`, `protocol`, `since` (RFC 3339 or seconds since 1970), `limit` ≤ 1000.
    func requests(_ request: Request) throws -> Response {
        let query = request.uri.queryParameters
        let mac = try query.get("mac").map(DevicesAPI.mac)
        let protocolName = query.get("protocol")
        if let protocolName, !["tftp", "http", "https", "ftp", "sip-pnp", "dhcp"].contains(protocolName) {
            throw APIError.badRequest("protocol: one of tftp, http, https, ftp, sip-pnp, dhcp")
        }
        var since: Double?
        if let text = query.get("since") {
            let formatter = ISO8601DateFormatter()
            guard let value = Double(text) ?? formatter.date(from: text)?.timeIntervalSince1970 else {
                throw APIError.badRequest("since: an RFC 3339 time (2026-12-06T10:00:00Z) or seconds since 1970")
            }
            since = value
        }
        var limit = 100
        if let text = query.get("limit") {
            guard let value = Int(text), (1...1000).contains(value) else { throw APIError.badRequest("limit: 1 to 1000") }
            limit = value
        }
        let records = try log?.requests(mac: mac, protocolName: protocolName, since: since, limit: limit) ?? []
        return try APIJSON.response(["requests": records.map { record in
            Logged(time: APIJSON.time(record.time), protocol: record.protocolName, client: record.client, path: record.path,
                   result: record.result, bytes: record.bytes, seconds: record.duration, mac: record.mac,
                   model: record.model, firmware: record.firmware)
        }])
    }

    /// The devices whose generated files changed since they were last told (`autoprov changes`).
    func changes() throws -> Response {
        let changed = try editor.snapshot().changes(since: try editor.store.notified(), serverURL: editor.serverURL)
        return try APIJSON.response(["devices": changed.map {
            Changed(mac: $0.mac, model: $0.model, new: $0.isNew, files: $0.files)
        }])
    }

    private func deviceAndSnapshot(_ context: AdminContext) throws -> (InventoryDevice, InventorySnapshot) {
        let mac = try DevicesAPI.mac(try context.parameters.require("mac"))
        let snapshot = try editor.snapshot()
        guard let device = snapshot.devices[mac] else { throw APIError.notFound("\(InventoryError.noSuchDevice(mac))") }
        return (device, snapshot)
    }
}
