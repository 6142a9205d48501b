import Foundation
import Hummingbird
import Inventory
import Storage

/// The templates pages: the list, and one template to edit with line numbers, its lint diagnostics at their lines
/// (Check lints without saving; Save is refused, nothing written, while there are errors), and its history as diffs.
/// The same ``InventoryEditor`` check as `template import` and the API's PUT.
struct ConsoleTemplatePages {
    let editor: InventoryEditor
    let api: TemplatesAPI
    var store: any InventoryStore { editor.store }

    func register(on group: RouterGroup<AdminContext>) {
        group.get("templates") { _, context in try self.list(context) }
        group.get("templates/edit") { request, context in try self.edit(request, context) }
        group.post("templates/edit") { _, context in try self.post(context) }
    }

    func list(_ context: AdminContext) throws -> Response {
        ConsoleViews.page("templates", title: "Templates", values: ["templates": try store.templates().map { template in
            ["path": template.layer.path, "version": template.version, "saved": APIJSON.time(template.saved)] as [String: Any]
        }], session: context.session)
    }

    func edit(_ request: Request, _ context: AdminContext) throws -> Response {
        let layer = try place(ConsolePages.query(request)["path"] ?? "")
        let latest = try store.templates().first { $0.layer == layer }
        var message: String?
        if let saved = ConsolePages.query(request)["saved"] { message = "Saved as version \(saved)." }
        return try page(layer, text: latest?.text ?? "", diagnostics: [], message: message, problem: nil, context)
    }

    /// Check or Save. A refused save shows the text as typed, with the diagnostics at their lines.
    func post(_ context: AdminContext) throws -> Response {
        let layer = try place(context.form["path"] ?? "")
        let text = (context.form["text"] ?? "").replacingOccurrences(of: "\r\n", with: "\n")
        let saving = context.form["action"] == "save"
        do {
            if saving {
                let warnings = try editor.saveTemplates([layer: text]).warnings
                let version = try store.templates().first { $0.layer == layer }?.version ?? 0
                if warnings.isEmpty { return ConsoleViews.redirect(ConsolePages.link("/templates/edit", [("path", layer.path), ("saved", "\(version)")])) }
                return try page(layer, text: text, diagnostics: warnings, message: "Saved as version \(version), with warnings.",
                                problem: nil, context)
            }
            let problems = try editor.check([layer: text])
            return try page(layer, text: text, diagnostics: problems,
                            message: problems.isEmpty ? "No problem found; not saved yet." : nil,
                            problem: problems.isEmpty ? nil : "\(problems.count) problem(s); not saved yet.", context,
                            status: problems.contains { $0.severity == .error } ? .unprocessableContent : .ok)
        } catch InventoryEditor.Refusal.templates(let problems) {
            let errors = problems.filter { $0.severity == .error }.count
            return try page(layer, text: text, diagnostics: problems, message: nil,
                            problem: "\(errors) error(s)\(saving ? "; nothing was saved" : "").", context,
                            status: .unprocessableContent)
        }
    }

    private func page(_ layer: TemplateLayer, text: String, diagnostics: [TemplateProblem], message: String?,
                      problem: String?, _ context: AdminContext, status: HTTPResponse.Status = .ok) throws -> Response {
        let lines = LineDiff.lines(text)
        let byLine = Dictionary(grouping: diagnostics, by: \.line)
        func shown(_ problem: TemplateProblem) -> [String: Any] {
            var shown: [String: Any] = ["line": problem.line, "column": problem.column, "severity": "\(problem.severity)",
                                        "code": problem.code, "message": problem.message]
            if let device = problem.device { shown["device"] = device }
            return shown
        }
        let versions = try store.versions(of: layer)
        var history: [[String: Any]] = []
        var previous: [String] = []
        for version in versions {
            let now = version.removed ? [] : LineDiff.lines(version.text)
            history.append(["version": version.version, "saved": APIJSON.time(version.saved) + " UTC", "removed": version.removed,
                            "diff": LineDiff.diff(previous, now).map { line in
                                ["kind": line.kind.rawValue, "text": line.text,
                                 "sign": line.kind == .added ? "+" : line.kind == .removed ? "-" : " "]
                            }])
            previous = now
        }
        var values: [String: Any] = [
            "path": layer.path, "text": text, "rows": max(lines.count + 1, 8),
            "gutter": (1...max(lines.count, 1)).map(String.init).joined(separator: "\n"),
            "hasDiagnostics": !diagnostics.isEmpty,
            "diagnostics": diagnostics.sorted { ($0.line, $0.column) < ($1.line, $1.column) }.map(shown),
            "lines": lines.enumerated().map { index, line in
                let found = byLine[index + 1] ?? []
                return ["number": index + 1, "text": line, "flagged": !found.isEmpty, "diagnostics": found.map(shown)] as [String: Any]
            },
            "history": Array(history.reversed()),
        ]
        if let latest = versions.last, !latest.removed { values["version"] = latest.version }
        if let message { values["message"] = message }
        if let problem { values["problem"] = problem }
        return ConsoleViews.page("template", title: "Templates", values: values, session: context.session, status: status)
    }

    private func place(_ path: String) throws -> TemplateLayer {
        do { return try api.place(path) } catch let error as APIError { throw ConsoleError(status: error.status, message: error.message) }
    }
}
