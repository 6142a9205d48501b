import ArgumentParser
import Foundation
import ProvisioningCore
import Resolution

/// `--common-key` and `--mac-key` for `lint` and `resolve`: encrypted files are read as the phone reads them (R6.2).
struct FileKeyOptions: ParsableArguments {
    @Option(name: .customLong("common-key"), help: "Key of encrypted common CFG files (else <name>_Security.enc beside each).")
    var commonKey: String?

    @Option(name: .customLong("mac-key"), help: "Key of encrypted <mac>.cfg files (else <name>_Security.enc beside each).")
    var macKey: String?

    func validate() throws {
        for (name, key) in [("--common-key", commonKey), ("--mac-key", macKey)] {
            if let key, let problem = AESKey.problem(in: key) { throw ValidationError("\(name): \(problem)") }
        }
    }

    var keys: FileKeys {
        FileKeys(common: commonKey.flatMap { try? AESKey($0) }, mac: macKey.flatMap { try? AESKey($0) })
    }
}

