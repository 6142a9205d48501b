import ArgumentParser
import Foundation


struct Autoprov: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autoprov",
        abstract: "Provisioning server and tools for Yealink IP phones.",
        discussion: """
            autoprov knows the phone's own rules (boot files, include order, overwrite mode, MAC-local files, \
            MD5 change checks, wildcards) and tells an administrator what each phone will end up with.
            """,
        version: "0.1.0",
        subcommands: [Serve.self, Lint.self, Resolve.self, Simulate.self, Schedule.self, Devices.self, DeviceCommand.self, GroupCommand.self, TemplateCommand.self, Render.self, Changes.self, Log.self, Notify.self, Encrypt.self, Decrypt.self, AdminCommand.self, StoreCommand.self,
                      DHCP.self]
    )
}

/// A failure the user can fix: printed as one line on stderr, exit status 2.
struct UsageFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

extension ParsableCommand {
    /// Runs `body`, turning a ``UsageFailure`` into one line on stderr and exit status 2.
    func reportingFailures(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let failure as UsageFailure {
            FileHandle.standardError.write(Data("autoprov: error: \(failure.description)\n".utf8))
            throw ExitCode(2)
        }
    }
}

/// Writes text to standard output without buffering surprises.
func emit(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}
