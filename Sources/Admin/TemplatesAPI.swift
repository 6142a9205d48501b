import Foundation
import Hummingbird
import Inventory
import ProvisioningCore
import Storage

/// `/api/v1/templates`: the inventory's templates, every version kept, saved through the same ``InventoryEditor``
/// check as `autoprov template import` (a save that would serve a broken file is 422 with its diagnostics).
struct TemplatesAPI {
    let editor: InventoryEditor
    var store: any InventoryStore { editor.store }

    struct Listed: Encodable {
        let path: String
        let version: Int
        let saved: String
        let lines: Int
    }

    /// A version; a save's answer adds its lint warnings as `diagnostics`.
    struct Shown: Encodable {
        let path: String
        let version: Int
        let saved: String
        let text: String
        let removed: Bool
        var diagnostics: [APIDiagnostic]?
    }

    func register(on group: RouterGroup<AdminContext>) {
        group.get("templates") { _, _ in try self.list() }
        // A template's place has a slash in it (models/T46S.cfg): the rest of the path names it.
        group.get("templates/**") { _, context in try self.get(context) }
        group.put("templates/**") { request, context in try await self.put(request, context) }
        group.delete("templates/**") { _, context in try self.delete(context) }
    }

    func list() throws -> Response {
        try APIJSON.response(["templates": try store.templates().map { template in
            Listed(path: template.layer.path, version: template.version, saved: APIJSON.time(template.saved),
                   lines: template.text.split(separator: "\n", omittingEmptySubsequences: true).count)
        }])
    }

    /// `templates/PATH` (the latest version) or `templates/PATH/versions` (every one, oldest first).
    func get(_ context: AdminContext) throws -> Response {
        var parts = context.parameters.getCatchAll().map { String($0).removingPercentEncoding ?? String($0) }
        let versions = parts.last == "versions" && parts.count > 1
        if versions { parts.removeLast() }
        let layer = try place(parts.joined(separator: "/"))
        if versions {
            let all = try store.versions(of: layer)
            guard !all.isEmpty else { throw APIError.notFound("\(InventoryError.noSuchTemplate(layer.path))") }
            return try APIJSON.response(["versions": all.map(TemplatesAPI.shown)])
        }
        guard let latest = try store.templates().first(where: { $0.layer == layer }) else {
            throw APIError.notFound("\(InventoryError.noSuchTemplate(layer.path))")
        }
        return try APIJSON.response(TemplatesAPI.shown(latest))
    }

    /// Saves a new version (`{"text": "..."}`): 201 for a template that was not there, 200 otherwise (a text equal to
    /// the latest saves nothing); lint warnings come back as diagnostics.
    func put(_ request: Request, _ context: AdminContext) async throws -> Response {
        let layer = try writable(context)
        let body = try await APIRequestBody(request, allowed: ["text", "path"])
        guard let text = try body.string("text") else { throw APIError.badRequest("text: required") }
        if let sent = try body.string("path"), sent != layer.path, (try? place(sent)) != layer {
            throw APIError.conflict("path: \(sent) is not the template of this URL (\(layer.path))")
        }
        let existed = try store.templates().contains { $0.layer == layer }
        let warnings: [TemplateProblem]
        do {
            warnings = try editor.saveTemplates([layer: text]).warnings
        } catch InventoryEditor.Refusal.templates(let problems) {
            let errors = problems.filter { $0.severity == .error }.count
            throw APIError(status: .unprocessableContent, code: "lint",
                           message: "\(layer.path): \(errors) template error(s); nothing was saved",
                           diagnostics: problems.map(APIDiagnostic.init))
        }
        guard let latest = try store.templates().first(where: { $0.layer == layer }) else {
            throw APIError.notFound("\(InventoryError.noSuchTemplate(layer.path))")
        }
        var shown = TemplatesAPI.shown(latest)
        shown.diagnostics = warnings.map(APIDiagnostic.init)
        return try APIJSON.response(shown, status: existed ? .ok : .created)
    }

    /// The template stops applying; its versions stay, the last marked removed.
    func delete(_ context: AdminContext) throws -> Response {
        let layer = try writable(context)
        do {
            try editor.apply([.removeTemplate(layer)])
        } catch InventoryEditor.Refusal.inventory(let refusal) {
            throw APIError.notFound("\(refusal)")
        }
        return Response(status: .noContent)
    }

    /// The template the URL names; `…/versions` may only be read.
    private func writable(_ context: AdminContext) throws -> TemplateLayer {
        let parts = context.parameters.getCatchAll().map { String($0).removingPercentEncoding ?? String($0) }
        if parts.count > 1, parts.last == "versions" {
            throw APIError(status: .methodNotAllowed, code: "method-not-allowed", message: "versions may only be read",
                           allow: ["GET"])
        }
        return try place(parts.joined(separator: "/"))
    }

    /// A template place from the URL, as stored (a model by its catalog name, a device by its canonical MAC).
    func place(_ path: String) throws -> TemplateLayer {
        guard let layer = TemplateLayer(path: path) else {
            throw APIError.badRequest("path: '\(path)' is not a template place (defaults.cfg, models/<model>.cfg, "
                                      + "groups/<group>.cfg, devices/<mac>.cfg)")
        }
        do {
            return try editor.canonical(layer)
        } catch let refused as InventoryEditor.PlaceRefusal {
            throw APIError.notFound("path: \(refused)")
        }
    }

    static func shown(_ version: TemplateVersion) -> Shown {
        Shown(path: version.layer.path, version: version.version, saved: APIJSON.time(version.saved), text: version.text,
              removed: version.removed)
    }
}
