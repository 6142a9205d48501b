import ArgumentParser
import Foundation
import Inventory
import ProvisioningCore
import Resolution
import Storage

struct Resolve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the phone's provisioning algorithm against a provisioning root and show the result.",
        discussion: """
            DIR is the provisioning server's root. The phone tries <mac>.boot, then y000000000000.boot, then \
            its model's common CFG file and <mac>.cfg, and applies its MAC-local file last when protected. \
            --state keeps the phone's memory between runs (read if present, written after), so two runs model \
            two provisionings, with overwrite mode and the MD5 check. Exit status 2 on a bad MAC, an unknown \
            model or an unreadable root.
            """
    )

    @Option(help: "The provisioning root directory (default: the --config file's root; without either, only the files templates generate).")
    var root: String?

    @Option(help: "The phone's MAC address (00156574B150, 00:15:65:74:b1:50, 00-15-65-74-B1-50).")
    var mac: String

    @OptionGroup var store: InventoryOptions

    @Flag(help: "Print the values of settings that use a secret variable.")
    var withSecrets = false

    @Option(help: "The phone's model (T46G, SIP-T46G, T19P_E2, W52P, ...).")
    var model: String?

    @Option(name: .customLong("user-agent"), help: "The phone's HTTP User-Agent; gives the model.")
    var userAgent: String?

    @Option(help: "The phone's stored MAC-local file (default: <mac>-local.cfg in the root, if present).")
    var local: String?

    @Option(help: "A JSON file holding the phone's memory between provisionings; read if present, then written.")
    var state: String?

    @Option(help: ArgumentHelp(
        "The provisioning server URL as the phone has it; may hold $PN and $MAC. Its host's '/' is the root.",
        valueName: "url"))
    var url: String = "tftp://autoprov.invalid/"

    @Option(help: "Output: cfg (the effective configuration) or json.")
    var format: OutputFormat = .cfg

    @OptionGroup var keyOptions: FileKeyOptions

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case cfg, json
    }

    func run() throws {
        try reportingFailures {
            // The inventory, when the data folder has one: its device gives the model, its templates the files.
            let inventory = try store.openExisting()
            let snapshot = try inventory.map { try store.snapshot($0) }
            let canonical = (try? MACAddress(mac))?.canonical
            let device = canonical.flatMap { snapshot?.devices[$0] }
            // The config file's root when it is there; without one, only the generated files.
            var configured: String? = try store.config != nil ? store.settings().root : nil
            if let path = configured, !FileManager.default.fileExists(atPath: path) { configured = nil }
            let rootPath = root ?? configured
            guard rootPath != nil || device != nil else {
                throw UsageFailure("give --root (or --config), or a --data folder whose inventory has \(canonical ?? mac)")
            }
            let serverURL = try store.settings().templateServerURL
            let request = try makeRequest(root: rootPath, device: device)
            let (outcome, provenance): (ProvisioningOutcome, ResolveProvenance)
            do {
                (outcome, provenance) = try DeviceResolution.run(request, root: rootPath, keys: keyOptions.keys,
                                                                 snapshot: snapshot, serverURL: serverURL,
                                                                 withSecrets: withSecrets)
            } catch {
                throw UsageFailure("\(error)")
            }
            if let state { try PhoneInputs.write(outcome.state, to: state) }
            switch format {
            case .json: emit(try ResolveOutput.json(outcome, provenance: provenance))
            case .cfg: emit(ResolveOutput.cfg(outcome, provenance: provenance))
            }
        }
    }

    private func makeRequest(root: String?, device: InventoryDevice?) throws -> ProvisioningRequest {
        let mac: MACAddress
        do { mac = try MACAddress(self.mac) } catch { throw UsageFailure("\(error)") }
        let phoneModel = try PhoneInputs.model(model, userAgent: userAgent, mac: mac,
                                               inventoryModel: device.flatMap { ModelCatalog.model(named: $0.model) })
        if let root {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue,
                  FileManager.default.isReadableFile(atPath: root)
            else { throw UsageFailure("\(root): not a readable directory") }
        }
        let localPath = local ?? root.map { ($0 as NSString).appendingPathComponent(mac.canonical + "-local.cfg") }
        return ProvisioningRequest(serverURL: ServerURLTemplate(url), mac: mac, model: phoneModel,
                                   previous: try PhoneInputs.readState(state),
                                   localFile: try PhoneInputs.readLocalFile(localPath, given: local != nil))
    }
}

