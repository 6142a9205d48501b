import Foundation

/// The provisioning root made on first start when none exists: a commented boot file and CFG files that
/// `autoprov lint` accepts, so an administrator sees the format before writing their own.
public enum ExampleRoot {
    static let files: [(String, String)] = [
        ("y000000000000.boot", """
            #!version:1.0.0.1
            ## The header above must stay the first line (R1.1).
            ## Common boot file: every phone without a <mac>.boot downloads these files, in order (R2.2).
            ## Paths are relative to this file, or full URLs (tftp://, http://, https://, ftp://).
            include:config <common.cfg>
            ## A per-phone file; a missing include is skipped (R3.5):
            ## include:config <phones/$MAC.cfg>

            ## overwrite_mode = 1 (the default with a boot file): blank or deleted settings return to factory
            ## defaults; 0 keeps what the phone has (R2.4).
            overwrite_mode = 1

            """),
        ("common.cfg", """
            #!version:1.0.0.1
            ## Settings for every phone. One 'key = value' per line (R1.3).
            ## Keep users' changes made on the phone (<mac>-local.cfg) and back them up here (R5):
            static.auto_provision.custom.protect = 1
            static.auto_provision.custom.sync = 1
            ## Check for changes once a day (R8.3):
            static.auto_provision.repeat.enable = 1
            static.auto_provision.repeat.minutes = 1440

            """),
        ("00156574b150.cfg.example", """
            #!version:1.0.0.1
            ## Rename to <mac>.cfg (12 lower-case hex digits) for one phone, e.g. its SIP account:
            ## account.1.enable = 1
            ## account.1.label = Reception
            ## account.1.user_name = 1001
            ## account.1.password = change-me
            ## account.1.sip_server.1.address = pbx.example.com

            """),
    ]

    /// Creates `directory` with the example files when it does not exist; returns whether it did.
    @discardableResult
    public static func createIfMissing(at directory: String) throws -> Bool {
        guard !FileManager.default.fileExists(atPath: directory) else { return false }
        let url = URL(fileURLWithPath: directory)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for (name, text) in files {
            try text.write(to: url.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return true
    }
}
