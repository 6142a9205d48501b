import FileService
import Foundation
import NIOCore
import WireProtocols

/// A control connection's state, and what each command line asks for, decided without I/O (RFC 959, 2389, 2428,
/// 3659, 4217). Every driver of a session (the SwiftNIO session, the server's epoll fast path) feeds it lines and
/// carries out the ``Action`` it returns, so both answer every command alike.
public struct FTPSessionState: Sendable {
    public var pendingUser: String?
    public var login: FTPLogin?
    /// The working directory, absolute (``FTPPath``).
    public var directory = "/"
    /// TYPE A: line ends become CRLF on the wire.
    public var asciiMode = false
    /// REST: where the next RETR starts.
    public var restartOffset = 0
    public var tlsOnControl = false
    /// PROT P: data connections use TLS.
    public var protectData = false

    public init() {}

    /// What a driver does for a command.
    public enum Action: Sendable, Equatable {
        /// Send this reply; nothing else to do.
        case reply(FTPReply)
        /// Send 221 and close the session.
        case quit
        /// Check the credentials, then ``loggedIn(_:)`` or ``loginRefused()``.
        case login(username: String, password: String)
        /// Send 234, then start TLS on the control connection (``startedTLS()``).
        case startTLS
        /// Open a passive listener (PASV, or EPSV when `extended`), then reply with ``passiveReply(extended:port:address:)``.
        case openPassive(extended: Bool)
        /// Data connections go to this address (the client's own, already checked); reply 200.
        case connectActive(host: String, port: Int, verb: String)
        /// A command on a path, for a logged-in user.
        case file(FileCommand, FTPLogin)
    }

    /// The commands that need the file tree; paths are already resolved against the working directory.
    public enum FileCommand: Sendable, Equatable {
        case size(String)
        case modificationTime(String)
        case machineListing(String)
        case changeDirectory(String)
        /// LIST, NLST or MLSD of a path.
        case list(verb: String, path: String)
        /// RETR from an offset (REST, now used up).
        case retrieve(String, offset: Int)
        case store(String)
    }

    /// Commands known to need a login.
    static let loggedInVerbs: Set<String> = [
        "PWD", "XPWD", "CWD", "XCWD", "CDUP", "XCUP", "TYPE", "MODE", "STRU", "PASV", "EPSV", "PORT", "EPRT", "LIST",
        "NLST", "MLSD", "MLST", "SIZE", "MDTM", "RETR", "STOR", "REST", "ABOR",
    ]

    /// The next step for one command line (without its LF).
    public mutating func action(for line: String, tlsAvailable: Bool, client: String) -> Action {
        guard let command = FTPCommand(line: line) else { return .reply(FTPReply(500, "Syntax error, command unrecognized")) }
        let argument = command.argument
        switch command.verb {
        case "QUIT": return .quit
        case "NOOP": return .reply(FTPReply(200, "OK"))
        case "SYST": return .reply(FTPReply(215, "UNIX Type: L8"))
        case "FEAT":
            var features = ["EPRT", "EPSV", "MDTM", "MLST type*;size*;modify*;", "PASV", "REST STREAM", "SIZE", "TVFS",
                            "UTF8"]
            if tlsAvailable { features += ["AUTH TLS", "PBSZ", "PROT"] }
            return .reply(FTPReply(211, (["Features:"] + features + ["End"]).joined(separator: "\n")))
        case "OPTS":
            let option = argument.uppercased()
            if option == "UTF8 ON" || option == "UTF8" { return .reply(FTPReply(200, "UTF8 is always on")) }
            if option.hasPrefix("MLST") { return .reply(FTPReply(200, "MLST OPTS type;size;modify;")) }
            return .reply(FTPReply(501, "Option not understood"))
        case "AUTH":
            guard tlsAvailable else { return .reply(FTPReply(502, "TLS is not configured")) }
            guard ["TLS", "TLS-C", "SSL"].contains(argument.uppercased()) else { return .reply(FTPReply(504, "Only AUTH TLS")) }
            guard !tlsOnControl else { return .reply(FTPReply(503, "Already protected")) }
            return .startTLS
        case "PBSZ":
            guard tlsOnControl else { return .reply(FTPReply(503, "Use AUTH TLS first")) }
            return .reply(FTPReply(200, "PBSZ=0"))
        case "PROT":
            guard tlsOnControl else { return .reply(FTPReply(503, "Use AUTH TLS first")) }
            switch argument.uppercased() {
            case "P": protectData = true; return .reply(FTPReply(200, "Data connections will be protected"))
            case "C": protectData = false; return .reply(FTPReply(200, "Data connections will be clear"))
            default: return .reply(FTPReply(504, "Only C and P are supported"))
            }
        case "CCC": return .reply(FTPReply(533, "The control connection stays protected"))
        case "USER":
            pendingUser = argument
            login = nil
            return .reply(FTPReply(331, "Password required for \(argument)"))
        case "PASS":
            guard let user = pendingUser else { return .reply(FTPReply(503, "Send USER first")) }
            pendingUser = nil
            return .login(username: user, password: argument)
        case "ACCT": return .reply(FTPReply(202, "No account needed"))
        default:
            guard let login else {
                let known = FTPSessionState.loggedInVerbs.contains(command.verb)
                return .reply(known ? FTPReply(530, "Please log in with USER and PASS")
                                    : FTPReply(502, "Command not implemented"))
            }
            return loggedInAction(command, login: login, client: client)
        }
    }

    private mutating func loggedInAction(_ command: FTPCommand, login: FTPLogin, client: String) -> Action {
        let argument = command.argument
        let path = FTPPath.resolve(argument, from: directory)
        switch command.verb {
        case "PWD", "XPWD": return .reply(FTPReply(257, "\(FTPPath.quoted(directory)) is the current directory"))
        case "CWD", "XCWD", "CDUP", "XCUP":
            let target = command.verb.hasSuffix("UP") ? FTPPath.resolve("..", from: directory) : path
            guard target != "/" else {
                directory = "/"
                return .reply(FTPReply(250, "Directory changed to /"))
            }
            return .file(.changeDirectory(target), login)
        case "TYPE":
            switch argument.uppercased() {
            case "A", "A N": asciiMode = true; return .reply(FTPReply(200, "Type set to A"))
            case "I", "L 8": asciiMode = false; return .reply(FTPReply(200, "Type set to I"))
            default: return .reply(FTPReply(504, "Type not supported"))
            }
        case "MODE":
            return .reply(argument.uppercased() == "S" ? FTPReply(200, "Mode S") : FTPReply(504, "Only mode S"))
        case "STRU":
            return .reply(argument.uppercased() == "F" ? FTPReply(200, "Structure F") : FTPReply(504, "Only structure F"))
        case "PASV", "EPSV": return .openPassive(extended: command.verb == "EPSV")
        case "PORT", "EPRT":
            let target = command.verb == "PORT" ? FTPHostPort.parsePORT(argument) : FTPHostPort.parseEPRT(argument)
            guard let target else { return .reply(FTPReply(501, "Bad address")) }
            // No FTP bounce (RFC 2577 §3): data goes only to the client's own address, and not to a privileged port.
            guard sameHost(target.host, client), target.port >= 1024 else {
                return .reply(FTPReply(504, "Data connections go only to your own address"))
            }
            return .connectActive(host: target.host, port: target.port, verb: command.verb)
        case "REST":
            guard let offset = Int(argument), offset >= 0 else { return .reply(FTPReply(501, "Bad offset")) }
            restartOffset = offset
            return .reply(FTPReply(350, "Restarting at \(offset)"))
        case "SIZE": return .file(.size(path), login)
        case "MDTM": return .file(.modificationTime(path), login)
        case "MLST": return .file(.machineListing(path), login)
        case "LIST", "NLST", "MLSD":
            // LIST takes `ls` options (`-la`) which are ignored; the rest is the path.
            let words = argument.split(separator: " ").filter { !$0.hasPrefix("-") }
            return .file(.list(verb: command.verb, path: FTPPath.resolve(words.joined(separator: " "), from: directory)),
                         login)
        case "RETR":
            defer { restartOffset = 0 }
            return .file(.retrieve(path, offset: restartOffset), login)
        case "STOR":
            restartOffset = 0
            guard !login.isAnonymous else { return .reply(FTPReply(550, "Anonymous users cannot upload")) }
            return .file(.store(path), login)
        case "ABOR": return .reply(FTPReply(226, "ABOR command successful"))
        default: return .reply(FTPReply(502, "Command not implemented"))
        }
    }

    // MARK: After the I/O

    /// The credentials were accepted.
    public mutating func loggedIn(_ accepted: FTPLogin) -> FTPReply {
        login = accepted
        directory = "/"
        return FTPReply(230, accepted.isAnonymous ? "Anonymous login, read only" : "Logged in")
    }

    /// The credentials were refused (after the refusal's delay).
    public static func loginRefused() -> FTPReply {
        FTPReply(530, "Login incorrect")
    }

    /// TLS now protects the control connection: the client logs in again (RFC 4217 §4).
    public mutating func startedTLS() {
        tlsOnControl = true
        login = nil
        pendingUser = nil
    }

    /// The reply to SIZE, MDTM, MLST or CWD, given what the tree says of the path.
    public mutating func reply(to command: FileCommand, entry: Result<FTPEntry, FTPFailure>) -> FTPReply {
        let found: FTPEntry
        switch entry {
        case .success(let entry): found = entry
        case .failure(let failure): return failure.reply
        }
        switch command {
        case .size:
            return found.isDirectory ? FTPReply(550, "Not a plain file") : FTPReply(213, String(found.size))
        case .modificationTime:
            return FTPReply(213, FTPEntry.timestamp(found.modified))
        case .machineListing(let path):
            var named = found
            named.name = path
            return FTPReply(250, "Listing \(path)\n" + named.machineLine() + "\nEnd")
        case .changeDirectory(let path):
            guard found.isDirectory else { return FTPReply(550, "Not a directory") }
            directory = path
            return FTPReply(250, "Directory changed to \(path)")
        case .list, .retrieve, .store:
            return FTPReply(502, "Command not implemented")
        }
    }

    /// The 227 or 229 reply for a passive listener on `port`; nil when PASV cannot name `address` (IPv6: use EPSV).
    public static func passiveReply(extended: Bool, port: Int, address: String) -> FTPReply? {
        if extended { return FTPReply(229, "Entering Extended Passive Mode (|||\(port)|)") }
        guard !address.contains(":") else { return nil }
        return FTPReply(227, "Entering Passive Mode (\(FTPHostPort.formatPASV(host: address, port: port)))")
    }

    /// What RETR sends of a file: line ends converted under TYPE A, from the REST offset; nil when the offset is
    /// beyond the end (``restartBeyondEnd``).
    public func download(_ contents: ByteBuffer, offset: Int) -> ByteBuffer? {
        var contents = asciiMode ? FTPSessionState.toNetworkLines(contents) : contents
        guard offset <= contents.readableBytes else { return nil }
        contents.moveReaderIndex(forwardBy: offset)
        return contents
    }

    public static let restartBeyondEnd = FTPReply(554, "Restart offset beyond the end of the file")

    /// What STOR keeps of the bytes received: line ends converted back under TYPE A.
    public func upload(_ received: ByteBuffer) -> ByteBuffer {
        asciiMode ? FTPSessionState.fromNetworkLines(received) : received
    }

    /// What LIST or NLST of a path that is not a directory lists: the file itself, as `ls` does (NLST names it by
    /// its path); nil when it is not a file, or for MLSD (then ``noSuchFile``).
    public static func fileListing(verb: String, path: String, entry: Result<FTPEntry, FTPFailure>) -> FTPEntry? {
        guard verb != "MLSD", case .success(var file) = entry, !file.isDirectory else { return nil }
        if verb == "NLST" { file.name = path }
        return file
    }

    public static let noSuchFile = FTPReply(550, "No such file or directory")

    /// The text of a LIST, NLST or MLSD.
    public static func listing(_ entries: [FTPEntry], verb: String, now: Date = Date()) -> String {
        entries.map { entry in
            switch verb {
            case "NLST": entry.name + "\r\n"
            case "MLSD": entry.machineLine() + "\r\n"
            default: entry.listLine(now: now) + "\r\n"
            }
        }.joined()
    }

    /// TYPE A on the wire: every line ends in CRLF (RFC 959 §3.1.1.1).
    static func toNetworkLines(_ buffer: ByteBuffer) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(buffer.readableBytes + buffer.readableBytes / 16)
        var previous: UInt8 = 0
        for byte in buffer.readableBytesView {
            if byte == UInt8(ascii: "\n"), previous != UInt8(ascii: "\r") { out.writeInteger(UInt8(ascii: "\r")) }
            out.writeInteger(byte)
            previous = byte
        }
        return out
    }

    /// TYPE A from the wire: CRLF becomes the local LF.
    static func fromNetworkLines(_ buffer: ByteBuffer) -> ByteBuffer {
        var out = ByteBuffer()
        let bytes = Array(buffer.readableBytesView)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\r"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\n") {
                index += 1
                continue
            }
            out.writeInteger(bytes[index])
            index += 1
        }
        return out
    }
}

/// What a driver does once the file service has answered RETR, LIST/NLST/MLSD or STOR: decided here, so that the
/// SwiftNIO session and the epoll loop only carry it out.
public enum FTPTransferPlan: Sendable, Equatable {
    /// No transfer: the announced data connection is dropped, `result` (when there is one) recorded with no bytes,
    /// and `reply` sent.
    case refuse(FTPReply, result: RequestResult?)
    /// `announce` (150), then these bytes on the data connection; `result` is recorded with their count.
    case send(ByteBuffer, announce: FTPReply, result: RequestResult)
    /// `announce` (150), then at most `limit` bytes received; more is refused with ``FTPTransferPlan/tooLarge(_:)``.
    case receive(limit: Int, announce: FTPReply)

    /// The reply to an upload over its limit; recorded as `too-large`.
    public static func tooLarge(_ limit: Int) -> FTPReply { FTPFailure.tooLarge(limit).reply }

    /// The server's upload budget is full (`[limits] upload_mb`): 452, which a client takes as "not now" (RFC 959).
    public static let budgetFull = FTPReply(452, "Insufficient storage: too many uploads at once; try again later")

    /// An upload received whole and handed to the file service: what is recorded, and the reply.
    public static func stored(_ failure: FTPFailure?) -> (result: RequestResult, reply: FTPReply) {
        (failure?.result ?? .stored, failure?.reply ?? FTPReply(226, "Transfer complete"))
    }
}

extension FTPSessionState {
    /// RETR: the file as the session sends it (TYPE A, REST), or why not.
    public func retrieve(_ answer: Result<ByteBuffer, FTPFailure>, path: String, offset: Int) -> FTPTransferPlan {
        let file: ByteBuffer
        switch answer {
        case .success(let read): file = read
        case .failure(let failure): return .refuse(failure.reply, result: failure.result)
        }
        guard let contents = download(file, offset: offset) else {
            return .refuse(FTPSessionState.restartBeyondEnd, result: nil)
        }
        return .send(contents, announce: FTPReply(150, "Opening data connection for \(path) (\(contents.readableBytes) bytes)"),
                     result: .ok)
    }

    /// LIST, NLST or MLSD: the listing of a directory, or of a file named by its path (`entry` is asked only then).
    public static func list(_ listed: Result<[FTPEntry], FTPFailure>, verb: String, path: String,
                            entry: () -> Result<FTPEntry, FTPFailure>) -> FTPTransferPlan {
        let entries: [FTPEntry]
        switch listed {
        case .success(let found): entries = found
        case .failure(.notFound) where verb != "MLSD":
            guard let file = fileListing(verb: verb, path: path, entry: entry()) else {
                return .refuse(noSuchFile, result: nil)
            }
            entries = [file]
        case .failure(let failure):
            return .refuse(failure.reply, result: nil)
        }
        return .send(ByteBuffer(string: listing(entries, verb: verb)),
                     announce: FTPReply(150, "Opening data connection for \(verb) \(path)"), result: .listed)
    }

    /// STOR: how much may be received (the smaller of the file service's limit for this path and the server's),
    /// or why nothing may.
    public static func store(_ permission: Result<Int, FTPFailure>, path: String, serverLimit: Int) -> FTPTransferPlan {
        switch permission {
        case .success(let limit): .receive(limit: min(limit, serverLimit), announce: FTPReply(150, "Ready to receive \(path)"))
        case .failure(let failure): .refuse(failure.reply, result: failure.result)
        }
    }
}

extension FTPFailure {
    /// The reply a failed file operation gets.
    public var reply: FTPReply {
        switch self {
        case .notFound(let reason): FTPReply(550, reason)
        case .denied(let reason): FTPReply(550, reason)
        case .tooLarge(let limit): FTPReply(552, "Upload exceeds \(limit) bytes")
        case .failed(let reason): FTPReply(451, reason)
        }
    }

    /// The request log's result word.
    public var result: RequestResult {
        switch self {
        case .notFound: .notFound
        case .denied: .forbidden
        case .tooLarge: .tooLarge
        case .failed: .failed
        }
    }
}

/// Whether two textual addresses name the same host (an IPv4 address and its IPv4-mapped IPv6 form match).
public func sameHost(_ lhs: String, _ rhs: String) -> Bool {
    func plain(_ address: String) -> String {
        address.lowercased().hasPrefix("::ffff:") ? String(address.dropFirst(7)) : address.lowercased()
    }
    return plain(lhs) == plain(rhs)
}
