import FuzzDriver
import Inventory
import Storage

/// A template as an administrator saves it, and variable values as a CSV import or the API brings them: the input
/// up to its first NUL is a group template, each piece after one is a value (the device's, its group's, a secret's).
/// Compiled; when it compiles, the device's file is rendered and must hold: every setting names a line of the
/// template, and the file anyone else receives holds no secret's value.
@_cdecl("LLVMFuzzerTestOneInput")
public func test(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let pieces = UnsafeBufferPointer(start: start, count: count).split(separator: 0, omittingEmptySubsequences: false)
        .map { String(decoding: $0, as: UTF8.self) }
    let text = pieces[0]
    let values = Array(pieces.dropFirst())
    func value(_ index: Int, _ fallback: String) -> String { index < values.count ? values[index] : fallback }
    guard let template = try? CompiledTemplate(layer: .group("office"), text: text) else { return 0 }
    let secret = "fz-" + value(2, "secret-value") + "-fz"
    var variables: [String: String] = ["sip_password": secret, "label": value(0, "Desk")]
    for tag in template.names where variables[tag] == nil { variables[tag] = value(1, "1") }
    let device = InventoryDevice(mac: "00156574b150", model: "T46U", groups: ["office"], variables: variables,
                                 password: "device-password")
    let renderer = TemplateRenderer(templates: [.group("office"): template],
                                    groups: ["office": InventoryGroup(name: "office", variables: ["region": value(3, "eu")])])
    guard let file = renderer.deviceFile(for: device, serverURL: "http://prov.example/", lint: true) else { return 0 }
    // Line feeds counted as bytes: a CRLF is one Character, and one line end.
    let lines = text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).count
    for setting in file.settings where setting.line < 1 || setting.line > lines {
        fatalError("setting \(setting.key) names line \(setting.line) of a template of \(lines)")
    }
    _ = file.bytes
    if String(decoding: file.redactedBytes, as: UTF8.self).contains(secret) {
        fatalError("a secret's value reached the file others receive")
    }
    return 0
}

@_cdecl("FuzzTemplates_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fuzz_driver(argc, argv, test)
}
