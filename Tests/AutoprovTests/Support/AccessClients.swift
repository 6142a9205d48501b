import Foundation
import Testing

/// The five ways a phone reaches a file, each driven by a real client: tftp-hpa, curl (HTTP and HTTPS) and lftp
/// (FTP, and FTPS with `AUTH TLS` and protected data connections). The S2 and S5 tables run over all of them.
enum Wire: String, CaseIterable, CustomStringConvertible {
    /// `ftpActive` is FTP in active mode (lftp sends PORT/EPRT): the session goes to the SwiftNIO side, as after
    /// `AUTH TLS` (`ftps`), while `ftp` stays on the epoll loops.
    case tftp, http, https, ftp, ftps, ftpActive = "ftp-active"

    var description: String { rawValue }

    /// TFTP carries no credentials (S5 refuses a protected directory there).
    var carriesCredentials: Bool { self != .tftp }
}

/// What a client got back, in the protocol's own terms: never "the client failed", which would hide a refusal
/// that did not happen.
enum Answer: Equatable, CustomStringConvertible {
    /// A download: the file's contents.
    case file(String)
    /// An upload was accepted.
    case stored
    /// Refused with this code: an HTTP status, a TFTP error code, an FTP reply code.
    case refused(Int)
    /// No answer in the protocol (a connection error, a timeout): what the client said.
    case broken(String)

    var description: String {
        switch self {
        case .file(let contents): "file(\(contents.prefix(40).debugDescription))"
        case .stored: "stored"
        case .refused(let code): "refused(\(code))"
        case .broken(let what): "broken(\(what.prefix(200)))"
        }
    }

    var code: Int? {
        if case .refused(let code) = self { return code }
        return nil
    }
}

/// A user name and password, sent as HTTP Basic (or Digest), or as the FTP login.
struct Account {
    var username: String
    var password: String
    var digest = false
}

extension ServerProcess {
    /// Downloads `path` (sent as it is: `--path-as-is`, no normalizing) over `wire`.
    func read(_ path: String, over wire: Wire, as account: Account? = nil) throws -> Answer {
        let scratch = try AccessScratch()
        switch wire {
        case .tftp:
            let result = try Client.run("tftp", ["-m", "binary", "127.0.0.1", "\(tftpPort)", "-c", "get", path,
                                                 scratch.file.path], timeout: 30)
            if let code = AccessScratch.tftpError(result.stdout + result.stderr) { return .refused(code) }
            guard let data = FileManager.default.contents(atPath: scratch.file.path) else {
                return .broken(result.stdout + result.stderr)
            }
            return .file(String(decoding: data, as: UTF8.self))
        case .http, .https:
            let base = wire == .http ? http : https
            let result = try Client.curl(AccessScratch.curlCredentials(account) + ["--path-as-is", "\(base)/\(path)"])
            guard result.status != 0 else { return .broken("curl exit \(result.exit)") }
            return result.status == 200 ? .file(result.body) : .refused(result.status)
        case .ftp, .ftps, .ftpActive:
            return try lftp(wire, account, "get -- \(AccessScratch.quoted(path)) -o \(scratch.file.path)") {
                .file(String(decoding: FileManager.default.contents(atPath: scratch.file.path) ?? Data(), as: UTF8.self))
            }
        }
    }

    /// Uploads `contents` as `path` over `wire`.
    func write(_ path: String, _ contents: String, over wire: Wire, as account: Account? = nil) throws -> Answer {
        let scratch = try AccessScratch()
        try contents.write(to: scratch.file, atomically: true, encoding: .utf8)
        switch wire {
        case .tftp:
            let result = try Client.run("tftp", ["-m", "binary", "127.0.0.1", "\(tftpPort)", "-c", "put",
                                                 scratch.file.path, path], timeout: 30)
            if let code = AccessScratch.tftpError(result.stdout + result.stderr) { return .refused(code) }
            guard result.status == 0, !result.stderr.contains("imeout") else { return .broken(result.stdout + result.stderr) }
            return .stored
        case .http, .https:
            let base = wire == .http ? http : https
            let result = try Client.curl(AccessScratch.curlCredentials(account)
                                         + ["--path-as-is", "-T", scratch.file.path, "\(base)/\(path)"])
            guard result.status != 0 else { return .broken("curl exit \(result.exit)") }
            return [200, 201, 204].contains(result.status) ? .stored : .refused(result.status)
        case .ftp, .ftps, .ftpActive:
            return try lftp(wire, account, "put \(scratch.file.path) -o \(AccessScratch.quoted(path))") { .stored }
        }
    }

    /// Runs one lftp command on a fresh session: `success` when it worked, else the FTP reply code it reports.
    private func lftp(_ wire: Wire, _ account: Account?, _ command: String, success: () -> Answer) throws -> Answer {
        let mode = switch wire {
        case .ftps: "set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:verify-certificate no"
        case .ftpActive: "set ftp:ssl-allow no; set ftp:passive-mode off"
        default: "set ftp:ssl-allow no"
        }
        let login = account.map { "\($0.username),\($0.password)" } ?? "anonymous,phone@"
        let script = "\(mode); set net:max-retries 1; set net:timeout 5; set net:reconnect-interval-base 1; "
            + "set cmd:fail-exit true; set xfer:clobber true; \(command); bye"
        let result = try Client.run("lftp", ["-u", login, "-e", script, "ftp://\(ftpHostPort)"], timeout: 60)
        if result.status == 0 { return success() }
        let said = result.stdout + result.stderr
        // lftp: "get: Access failed: 550 No such file (name)", "Login failed: 530 …".
        if let match = said.firstMatch(of: #/: ([0-9]{3}) /#), let code = Int(match.1) { return .refused(code) }
        return .broken(said)
    }

    /// Whether the server still answers every protocol: checked after each hostile request.
    func servesAll(_ path: String, expecting contents: String) throws -> Bool {
        try Wire.allCases.allSatisfy { wire in
            try read(path, over: wire, as: wire.carriesCredentials ? Account(username: "phones", password: "pw") : nil)
                == .file(contents)
        }
    }
}

/// A temporary file for one client run, removed with it.
final class AccessScratch {
    let folder: URL
    var file: URL { folder.appendingPathComponent("payload") }

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-access-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    static func curlCredentials(_ account: Account?) -> [String] {
        guard let account else { return [] }
        return (account.digest ? ["--digest"] : []) + ["-u", "\(account.username):\(account.password)"]
    }

    /// tftp-hpa prints "Error code N: message".
    static func tftpError(_ said: String) -> Int? {
        guard let range = said.range(of: #"Error code [0-9]+"#, options: .regularExpression) else { return nil }
        return Int(said[range].dropFirst("Error code ".count))
    }

    /// A path as one lftp word (double quotes, with its own quotes and backslashes escaped).
    static func quoted(_ path: String) -> String {
        "\"" + path.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
