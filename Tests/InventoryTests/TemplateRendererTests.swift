import Inventory
import ProvisioningCore
import Storage
import Testing

/// Layers, variables, provenance and the lint of templates, rendered in process (the pure core of issue 14).
@Suite("Template rendering: layer order, variable precedence, provenance, lint", .timeLimit(.minutes(2)))
struct TemplateRendererTests {
    let mac = "00156574b150"

    func renderer(_ templates: [TemplateLayer: String], groups: [InventoryGroup] = [],
                  config: [String: String] = [:]) throws -> TemplateRenderer {
        let compiled = try TemplateRenderer.compile(templates.map {
            TemplateVersion(layer: $0.key, version: 1, text: $0.value, saved: 0)
        })
        return TemplateRenderer(templates: compiled, groups: Dictionary(uniqueKeysWithValues: groups.map { ($0.name, $0) }),
                                configVariables: config)
    }

    func device(groups: [String] = [], variables: [String: String] = [:], state: InventoryDevice.State = .active)
        -> InventoryDevice {
        InventoryDevice(mac: mac, model: "T46S", label: "Front desk", state: state, groups: groups,
                        variables: variables, password: "pw")
    }

    func text(_ file: GeneratedFile?) -> String {
        String(decoding: file?.bytes ?? [], as: UTF8.self)
    }

    @Test("an inventory generates files only with a template or an active device; without, it gives no name a file")
    func generatesFiles() throws {
        let names = [mac + ".cfg", mac + ".boot", "y000000000066.cfg", "y000000000000.boot"]
        let booting = ["boot": "1"]
        let bare = InventorySnapshot(devices: [device(variables: booting, state: .pending)], renderer: try renderer([:]))
        #expect(!bare.generatesFiles)
        #expect(names.allSatisfy { bare.file(named: $0, serverURL: "http://p/") == nil })
        // An active device's boot file needs no template.
        let active = InventorySnapshot(devices: [device(variables: booting)], renderer: try renderer([:]))
        #expect(active.generatesFiles)
        #expect(active.file(named: mac + ".boot", serverURL: "http://p/") != nil)
        let templated = InventorySnapshot(devices: [], renderer: try renderer([.defaults: "a = 1\n"]))
        #expect(templated.generatesFiles)
        #expect(templated.file(named: "y000000000066.cfg", serverURL: "http://p/") != nil)
    }

    @Test("the line markers' control characters are refused anywhere in a template, a tag's body too (found by fuzzing: one in a comment tag trapped the renderer); in a value they are spaces")
    func markerCharacters() throws {
        let found = "{{\u{0C}\u{0C}\u{0C}\u{0C}! a \u{1F}" + String(repeating: "\r", count: 40) + "lba.gl}}\n"
        for text in [found, "a = 1\nb = {{! \u{1E}9 }}\n", "a = \u{1F}\n"] {
            #expect(throws: TemplateProblem.self) { try CompiledTemplate(layer: .defaults, text: text) }
            do {
                _ = try CompiledTemplate(layer: .defaults, text: text)
            } catch {
                #expect(error.message.contains("U+001E or U+001F") && error.line == text.prefix { $0 != "\u{1F}" && $0 != "\u{1E}" }.count { $0 == "\n" } + 1, "\(error)")
            }
        }
        let renderer = try renderer([.device(mac): "account.1.label = {{label}}\nb = {{x}}\n"])
        let file = renderer.deviceFile(for: device(variables: ["x": "\u{1F}99999999999999999999999\u{1E}y"]), serverURL: "http://p/")
        #expect(text(file) == "#!version:1.0.0.1\naccount.1.label = Front desk\nb = 99999999999999999999999 y\n")
        #expect(file?.settings.map(\.line) == [1, 2])
    }

    @Test("R4.1: groups in the device's order, then the device's own layer; a later value wins, keys keep first place")
    func layerOrder() throws {
        let renderer = try renderer([
            .group("sales"): "a = sales\nb = sales\n",
            .group("floor2"): "b = floor2\nc = floor2\n",
            .device(mac): "c = own\n",
        ], groups: [InventoryGroup(name: "sales"), InventoryGroup(name: "floor2")])
        let file = renderer.deviceFile(for: device(groups: ["sales", "floor2"]), serverURL: "http://p/")
        #expect(text(file) == "#!version:1.0.0.1\na = sales\nb = floor2\nc = own\n")
        #expect(file?.settings.map(\.template) == [.group("sales"), .group("floor2"), .device(mac)])
        let reversed = renderer.deviceFile(for: device(groups: ["floor2", "sales"]), serverURL: "http://p/")
        #expect(text(reversed) == "#!version:1.0.0.1\nb = sales\nc = own\na = sales\n")
    }

    @Test("variables: the device's, then its groups' last first, then [inventory.variables]; built-ins always")
    func variablePrecedence() throws {
        let template = "x = {{x}}\ny = {{y}}\nz = {{z}}\nid = {{mac}} {{MAC}} {{model}} {{label}}\nurl = {{server_url}}\n"
        let renderer = try renderer(
            [.group("sales"): template],
            groups: [InventoryGroup(name: "sales", variables: ["x": "sales", "y": "sales"]),
                     InventoryGroup(name: "floor2", variables: ["x": "floor2"])],
            config: ["x": "config", "y": "config", "z": "config"])
        let file = try #require(renderer.deviceFile(for: device(groups: ["sales", "floor2"], variables: ["y": "own"]),
                                                    serverURL: "http://10.0.0.1/"))
        #expect(text(file) == """
            #!version:1.0.0.1
            x = floor2
            y = own
            z = config
            id = 00156574b150 00:15:65:74:B1:50 T46S Front desk
            url = http://10.0.0.1/

            """)
        let sources = file.settings.map { $0.variables.map { "\($0.name)<\($0.source.map(String.init(describing:)) ?? "-")" } }
        #expect(sources[0] == ["x<group floor2"])
        #expect(sources[1] == ["y<device"])
        #expect(sources[2] == ["z<config"])
        #expect(file.settings.map(\.line) == [1, 2, 3, 4, 5])
    }

    @Test("R7.1: the common file comes from defaults then the model layer, with no device variables")
    func commonFile() throws {
        let renderer = try renderer([
            .defaults: "#!version:1.0.0.1\nlang = {{language}}\nmodel = generic\n",
            .model("T46S"): "model = {{model}}\n",
            .model("T42S"): "model = other\n",
        ], config: ["language": "English"])
        let file = try #require(renderer.commonFile(named: "y000000000066.cfg", serverURL: "http://p/"))
        #expect(text(file) == "#!version:1.0.0.1\nlang = English\nmodel = T46S\n")
        #expect(file.settings.map(\.template) == [.defaults, .model("T46S")])
        #expect(renderer.commonFile(named: "00156574b150.cfg", serverURL: "") == nil)
    }

    @Test("sections: {{#v}} shows its lines when v is set, {{^v}} when it is not; CRLF templates read as LF")
    func sections() throws {
        let renderer = try renderer([.device(mac): "{{#vm}}\r\nvoice_mail.number.1 = {{vm}}\r\n{{/vm}}\r\n{{^vm}}\r\nvm = none\r\n{{/vm}}\r\nlast = 1"])
        let with = try #require(renderer.deviceFile(for: device(variables: ["vm": "*97"]), serverURL: ""))
        #expect(text(with) == "#!version:1.0.0.1\nvoice_mail.number.1 = *97\nlast = 1\n")
        #expect(with.settings.map(\.line) == [2, 7])
        let without = try #require(renderer.deviceFile(for: device(), serverURL: ""))
        #expect(text(without) == "#!version:1.0.0.1\nvm = none\nlast = 1\n")
        #expect(without.settings.map(\.line) == [5, 7])
    }

    @Test("values are never HTML-escaped, and a line break in a value cannot start a new setting")
    func valuesAreText() throws {
        let renderer = try renderer([.device(mac): "a = {{v}}\nb = {{{v}}}\n"])
        let file = try #require(renderer.deviceFile(for: device(variables: ["v": "<&\"x\nstatic.evil = 1"]), serverURL: ""))
        #expect(text(file) == "#!version:1.0.0.1\na = <&\"x static.evil = 1\nb = <&\"x static.evil = 1\n")
    }

    @Test("S3: the same inputs give the same bytes; a change to one device's variable changes only its file")
    func byteStability() throws {
        let renderer = try renderer([.group("sales"): "user = {{user}}\nfloor = {{floor}}\n"],
                                    groups: [InventoryGroup(name: "sales", variables: ["floor": "2"])])
        let one = device(groups: ["sales"], variables: ["user": "1001"])
        var other = one
        other.mac = "00156574b151"
        let first = renderer.deviceFile(for: one, serverURL: "")?.bytes
        #expect(renderer.deviceFile(for: one, serverURL: "")?.bytes == first)
        let otherBefore = renderer.deviceFile(for: other, serverURL: "")?.bytes
        var changed = one
        changed.variables["user"] = "1002"
        #expect(renderer.deviceFile(for: changed, serverURL: "")?.bytes != first)
        #expect(renderer.deviceFile(for: other, serverURL: "")?.bytes == otherBefore)
    }

    @Test("a pending or disabled device, or one no group or device template names, gets no generated <mac>.cfg")
    func noFileWithoutLayers() throws {
        let renderer = try renderer([.defaults: "a = 1\n", .device(mac): "b = 2\n"])
        #expect(renderer.deviceFile(for: device(state: .pending), serverURL: "") == nil)
        #expect(renderer.deviceFile(for: device(state: .disabled), serverURL: "") == nil)
        var stranger = device()
        stranger.mac = "00156574b199"
        #expect(renderer.deviceFile(for: stranger, serverURL: "") == nil)
    }

    @Test("secrets: a line using a secret variable is marked and left out of the redacted bytes, with a comment")
    func secretLines() throws {
        let renderer = try renderer([.device(mac): "account.1.user_name = {{user}}\naccount.1.password = {{sip_password}}\n"])
        let file = try #require(renderer.deviceFile(for: device(variables: ["user": "1001", "sip_password": "s3cr3t!"]),
                                                    serverURL: ""))
        #expect(file.holdsSecrets)
        #expect(text(file).contains("account.1.password = s3cr3t!"))
        let redacted = String(decoding: file.redactedBytes, as: UTF8.self)
        #expect(!redacted.contains("s3cr3t!"))
        #expect(redacted == "#!version:1.0.0.1\naccount.1.user_name = 1001\n"
            + "# account.1.password left out: it holds a secret that only its own device receives\n")
    }

    @Test("model sections (R1.7) keep only the lines for the device's model")
    func modelSections() throws {
        let renderer = try renderer([.device(mac): "a = all\n[T42S]\na = t42s\n[SIP-T46S, T48S]\nb = t46s\n"])
        let file = try #require(renderer.deviceFile(for: device(), serverURL: ""))
        #expect(text(file) == "#!version:1.0.0.1\na = all\nb = t46s\n")
    }

    @Test("lint: a template that does not parse is refused with its line", arguments: [
        ("a = 1\nb = {{user\n", 2, "unclosed tag"),
        ("a = 1\n{{#vm}}\nb = 2\n", 2, "never closed"),
        ("{{#vm}}\nb = 2\n{{/other}}\n", 3, "closes section 'vm' opened on line 1"),
        ("a = {{> common}}\n", 1, "partials"),
        ("a = {{user.name}}\n", 1, "not a variable name"),
    ])
    func parseProblems(text: String, line: Int, message: String) throws {
        let error = #expect(throws: TemplateProblems.self) {
            try TemplateRenderer.compile([TemplateVersion(layer: .group("sales"), version: 1, text: text, saved: 0)])
        }
        let problem = try #require(error?.problems.first)
        #expect(problem.template == "groups/sales.cfg")
        #expect(problem.line == line)
        #expect(problem.message.contains(message), "\(problem)")
    }

    @Test("lint: an unknown variable, a device variable in a common file, and a bad rendered line name template and line")
    func renderedProblems() throws {
        let renderer = try renderer([
            .defaults: "a = {{label}}\n",
            .group("sales"): "{{#vm}}\nx = {{nowhere}}\n{{/vm}}\ny = {{missing}}\nfeatures dnd = 1\noverwrite_mode = 1\n",
        ], groups: [InventoryGroup(name: "sales")])
        let common = try #require(renderer.commonFile(named: "y000000000066.cfg", serverURL: "", lint: true))
        #expect(common.problems.map(\.description) == [
            "defaults.cfg:1: '{{label}}' has no value in this file (a model's common file has no device variables)",
        ])
        let file = try #require(renderer.deviceFile(for: device(groups: ["sales"]), serverURL: "", lint: true))
        let lines = file.problems.map { "\($0.line) \($0.severity) \($0.device ?? "-")" }
        #expect(lines == ["4 error 00156574b150", "5 error 00156574b150", "6 error 00156574b150"])
        #expect(file.problems[0].description.hasPrefix("groups/sales.cfg:4: unknown variable 'missing'"))
        #expect(file.problems[1].message.contains("[invalid-line]"))
        #expect(file.problems[2].message.contains("[overwrite-outside-boot]"))
    }

    @Test("R2: the variable boot gives an active device a <mac>.boot including its common file, then <mac>.cfg")
    func bootMode() throws {
        let renderer = try renderer([.group("sales"): "a = 1\n"],
                                    groups: [InventoryGroup(name: "sales", variables: ["boot": "1"])])
        let boot = try #require(renderer.bootFile(for: device(groups: ["sales"]), serverURL: ""))
        #expect(boot.name == "00156574b150.boot")
        #expect(text(boot) == "#!version:1.0.0.1\ninclude:config \"y000000000066.cfg\"\ninclude:config \"00156574b150.cfg\"\n"
            + "overwrite_mode = 1\n")
        #expect(Linter().lint(path: boot.name, bytes: boot.bytes).isEmpty)
        let keep = renderer.bootFile(for: device(groups: ["sales"], variables: ["boot": "keep"]), serverURL: "")
        #expect(text(keep).hasSuffix("overwrite_mode = 0\n"))
        #expect(renderer.bootFile(for: device(groups: ["sales"], variables: ["boot": "off"]), serverURL: "") == nil)
        #expect(renderer.bootFile(for: device(), serverURL: "") == nil)
        #expect(renderer.bootFile(for: device(groups: ["sales"], state: .pending), serverURL: "") == nil)
    }
}
