import ArgumentParser
import Foundation
import Inventory
import ProvisioningCore
import Storage

/// `autoprov render`: the files templates generate for one phone, as it would be served them.
struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the files templates generate for a device: its model's common CFG file and its <mac>.cfg.",
        discussion: """
            Lines that use a secret variable are left out, as anyone but the device itself receives them, unless \\
            --with-secrets is given.
            """)
    @OptionGroup var store: InventoryOptions
    @Option(help: "The device's MAC.") var mac: String
    @Option(help: "Only this file (e.g. 00156574b150.cfg), printed as its bytes.") var file: String?
    @Option(help: "The value of {{server_url}} (default: [inventory] server_url, else the HTTP listener's URL).")
    var serverURL: String?
    @Flag(help: "Print secret lines too.") var withSecrets = false

    func run() throws {
        try reportingFailures {
            guard let canonical = try? MACAddress(mac).canonical else { throw UsageFailure("'\(mac)' is not a MAC address") }
            let inventory = try store.open()
            guard let device = try inventory.device(mac: canonical) else {
                throw UsageFailure("no device \(canonical) in the inventory")
            }
            let snapshot = try store.snapshot(inventory)
            let url = try serverURL ?? store.settings().templateServerURL
            let files = snapshot.files(for: device, serverURL: url)
            let bytes = { (file: GeneratedFile) in withSecrets ? file.bytes : file.redactedBytes }
            if let name = file {
                guard let found = files.first(where: { $0.name == name }) else {
                    throw UsageFailure("templates generate no \(name) for \(canonical) (they generate: "
                                       + (files.isEmpty ? "nothing" : files.map(\.name).joined(separator: ", ")) + ")")
                }
                FileHandle.standardOutput.write(Data(bytes(found)))
                return
            }
            if files.isEmpty { throw UsageFailure("templates generate no file for \(canonical) (\(device.state))") }
            for (index, generated) in files.enumerated() {
                emit((index > 0 ? "\n" : "") + "==> \(generated.name) (from \(generated.templates.map(\.path).joined(separator: ", "))) <==\n")
                FileHandle.standardOutput.write(Data(bytes(generated)))
            }
        }
    }
}
