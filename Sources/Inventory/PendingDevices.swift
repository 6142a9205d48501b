import Foundation
import Logging
import ProvisioningCore
import Storage
import Synchronization

/// Phones that ask for files but are not in the inventory: each is added as `pending` (or `active` when
/// `auto_approve` names its OUI or model) once both its MAC (a request, or the DHCP lease of the address it asks
/// from) and its model are known, once per MAC, and at most `perAddress` from one source address, so that a flood
/// of invented MACs cannot fill the store.
public final class PendingDevices: Sendable {
    let generated: GeneratedFiles
    let perAddress: Int
    /// OUIs (`001565`, any spelling) and catalog models whose new phones are added active.
    let autoApprove: [String]
    let logger: Logger
    private let state = Mutex(State())

    struct State {
        /// The model the latest common-file request from an address named: a TFTP phone asks for its common file
        /// (which says its model) before `<mac>.cfg` (which says its MAC).
        var modelByAddress: [String: String] = [:]
        /// The MAC the latest DHCP lease gave each address: DHCP names a phone's MAC but not its model, and the
        /// common file it asks for next from that address names the model.
        var macByAddress: [String: String] = [:]
        var added: Set<String> = []
        var addedByAddress: [String: Int] = [:]
        var warned: Set<String> = []
    }

    public init(generated: GeneratedFiles, perAddress: Int, autoApprove: [String], logger: Logger) {
        self.generated = generated
        self.perAddress = perAddress
        self.autoApprove = autoApprove.map { $0.lowercased().filter { $0.isHexDigit || $0.isLetter || $0.isNumber } }
        self.logger = logger
    }

    /// Takes a batch of identified requests in time order (the request log's writer calls it); adds the new phones
    /// among them.
    public func observe(_ records: [RequestRecord], order: [Int]) {
        guard perAddress > 0 else { return }
        let known = generated.snapshot.devices
        var additions: [InventoryDevice] = []
        state.withLock { state in
            for index in order {
                let record = records[index]
                guard record.mac != nil || record.model != nil else { continue }
                let model = record.model.flatMap { ModelCatalog.model(named: $0)?.name }
                if record.protocolName == "dhcp", record.result == "acknowledged", let mac = record.mac {
                    if state.macByAddress.count > 100_000 { state.macByAddress.removeAll() }
                    state.macByAddress[record.client] = mac
                }
                guard let mac = record.mac ?? (model == nil ? nil : state.macByAddress[record.client]) else {
                    if let model {
                        if state.modelByAddress.count > 100_000 { state.modelByAddress.removeAll() }
                        state.modelByAddress[record.client] = model
                    }
                    continue
                }
                guard known.index(forKey: mac) == nil, !state.added.contains(mac),
                      let found = model ?? state.modelByAddress[record.client]
                else { continue }
                guard state.addedByAddress[record.client, default: 0] < perAddress else {
                    if state.warned.insert(record.client).inserted {
                        logger.warning("unknown phones from one address beyond [inventory] pending_per_address are not added",
                                       metadata: ["address": "\(record.client)", "limit": "\(perAddress)"])
                    }
                    continue
                }
                state.added.insert(mac)
                state.addedByAddress[record.client, default: 0] += 1
                let approved = autoApprove.contains { $0 == found.lowercased() || (mac.hasPrefix($0) && $0.count == 6) }
                var label = "seen at \(record.client)"
                if let firmware = record.firmware { label += "; firmware \(firmware)" }
                additions.append(InventoryDevice(mac: mac, model: found, label: label, state: approved ? .active : .pending,
                                                 password: InventoryNames.newPassword()))
            }
        }
        guard !additions.isEmpty else { return }
        do {
            try generated.add(additions)
            logger.notice("unknown phones added to the inventory", metadata: [
                "pending": "\(additions.filter { $0.state == .pending }.count)",
                "approved": "\(additions.filter { $0.state == .active }.count)",
            ])
        } catch {
            logger.error("cannot add unknown phones to the inventory", metadata: ["error": "\(error)"])
        }
    }
}
