import FileService
import Foundation
import Hummingbird
import ProvisioningCore
import Storage

/// `/api/v1/devices/{mac}/uploads`: the versions of the MAC-local file the phone uploaded (`<mac>-local.cfg`, S4),
/// each readable, and what changed between two of them, key by key.
struct UploadsAPI {
    let uploads: (any UploadHistory)?
    let store: any InventoryStore

    struct Listed: Encodable {
        let version: String
        let time: String
        let bytes: Int
        let md5: String
    }

    struct Diff: Encodable {
        struct Change: Encodable {
            let key: String
            let from: String?
            let to: String?
        }
        let from: String
        let to: String
        let added: [Change]
        let removed: [Change]
        let changed: [Change]
    }

    func register(on group: RouterGroup<AdminContext>) {
        group.get("devices/:mac/uploads") { _, context in try self.list(context) }
        group.get("devices/:mac/uploads/:version") { _, context in try self.version(context) }
        group.get("devices/:mac/uploads/:version/diff") { request, context in try self.diff(request, context) }
    }

    func list(_ context: AdminContext) throws -> Response {
        try APIJSON.response(["uploads": try versions(context).map { version in
            Listed(version: version.id, time: APIJSON.time(version.time), bytes: version.bytes.count,
                   md5: Provisioning.md5(version.bytes))
        }])
    }

    func version(_ context: AdminContext) throws -> Response {
        let bytes = try read(try DevicesAPI.parameter(context, "version"), context)
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8",
                                               .eTag: "\"\(Provisioning.md5(bytes))\""],
                        body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// `…/uploads/{version}/diff?against={other}`: what `version` has that `other` had not (added), had that
    /// `version` has not (removed), and holds with another value (changed); `other` defaults to the version before.
    func diff(_ request: Request, _ context: AdminContext) throws -> Response {
        let id = try DevicesAPI.parameter(context, "version")
        let all = try versions(context)
        guard let index = all.firstIndex(where: { $0.id == id }) else { throw APIError.notFound("no upload version \(id)") }
        let other: String
        if let against = request.uri.queryParameters.get("against") {
            other = against
        } else {
            guard index > 0 else { throw APIError.notFound("\(id) is the first version: give against") }
            other = all[index - 1].id
        }
        let new = UploadsAPI.settings(try read(id, context)), old = UploadsAPI.settings(try read(other, context))
        let changes = UploadsAPI.diff(old, new)
        func listed(_ kind: String) -> [Diff.Change] {
            changes.filter { $0.kind == kind }.map { .init(key: $0.key, from: $0.old, to: $0.new) }
        }
        return try APIJSON.response(Diff(from: other, to: id, added: listed("added"), removed: listed("removed"),
                                         changed: listed("changed")))
    }

    /// Key by key, what `new` added to `old`, removed from it, or holds with another value; by key.
    static func diff(_ old: [String: String], _ new: [String: String]) -> [(key: String, kind: String, old: String?, new: String?)] {
        Set(new.keys).union(old.keys).sorted().compactMap { key in
            switch (old[key], new[key]) {
            case (nil, let value?): (key, "added", nil, value)
            case (let value?, nil): (key, "removed", value, nil)
            case (let before?, let after?) where before != after: (key, "changed", before, after)
            default: nil
            }
        }
    }

    /// The versions of the device's local file; 404 for a MAC that is neither in the inventory nor uploaded
    /// anything (a phone may upload before it is added).
    private func versions(_ context: AdminContext) throws -> [UploadVersion] {
        let mac = try DevicesAPI.mac(try DevicesAPI.parameter(context, "mac"))
        let found = try uploads?.history(of: "\(mac)-local.cfg") ?? []
        if found.isEmpty, try store.device(mac: mac) == nil { throw APIError.notFound("\(InventoryError.noSuchDevice(mac))") }
        return found
    }

    private func read(_ id: String, _ context: AdminContext) throws -> [UInt8] {
        guard let version = try versions(context).first(where: { $0.id == id }) else {
            throw APIError.notFound("no upload version \(id)")
        }
        return version.bytes
    }

    /// A CFG file's settings, a later line winning (R4.1).
    static func settings(_ bytes: [UInt8]) -> [String: String] {
        var settings: [String: String] = [:]
        for entry in ConfigFile(bytes: bytes).settings { settings[entry.setting.key] = entry.setting.value }
        return settings
    }
}
