import Foundation
import ProvisioningCore

/// What `resolve` and `simulate` read about the phone: its model (named, from a User-Agent, or from the inventory),
/// its memory between provisionings (`--state`) and its stored MAC-local file (`--local`).
enum PhoneInputs {
    static func model(_ model: String?, userAgent: String?, mac: MACAddress, inventoryModel: PhoneModel?) throws -> PhoneModel {
        switch (model, userAgent) {
        case (let name?, nil):
            do { return try ModelCatalog.requireModel(named: name) } catch { throw UsageFailure("\(error)") }
        case (nil, let header?):
            let agent: UserAgent
            do { agent = try UserAgent(header) } catch { throw UsageFailure("\(error)") }
            guard let known = agent.model else { throw UsageFailure(UnknownModelError(name: agent.reportedModel).description) }
            if let reported = agent.mac, reported != mac {
                throw UsageFailure("the User-Agent names MAC \(reported) but --mac is \(mac)")
            }
            return known
        case (nil, nil):
            guard let inventoryModel else {
                throw UsageFailure("give exactly one of --model and --user-agent (the inventory has no device \(mac))")
            }
            return inventoryModel
        default:
            throw UsageFailure("give exactly one of --model and --user-agent")
        }
    }

    static func readState(_ path: String?) throws -> PhoneState? {
        guard let path, FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UsageFailure("\(path): cannot read the state file")
        }
        do {
            return try JSONDecoder().decode(PhoneState.self, from: data)
        } catch {
            throw UsageFailure("\(path): not a state file written by 'autoprov resolve' or 'simulate' (\(error))")
        }
    }

    /// The MAC-local file at `path`; a missing one is an error only when it was `given` (`--local`).
    static func readLocalFile(_ path: String?, given: Bool) throws -> StoredLocalFile? {
        guard let path else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            if given { throw UsageFailure("\(path): cannot read the MAC-local file") }
            return nil
        }
        return StoredLocalFile(name: given ? path : (path as NSString).lastPathComponent, file: ConfigFile(bytes: Array(data)))
    }

    static func write(_ state: PhoneState, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            try encoder.encode(state).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw UsageFailure("\(path): cannot write the state file (\(error.localizedDescription))")
        }
    }
}
