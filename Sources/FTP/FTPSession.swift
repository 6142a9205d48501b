import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import ProvisioningCore

/// One control connection: its commands, in order, and the data connections they open.
///
/// An actor on the control connection's own event loop, so reading a command and writing its reply need no hop
/// between threads: each file costs three round trips (EPSV, SIZE, RETR), and their latency is what a client feels.
actor FTPSession {
    let server: FTPServer
    nonisolated let channel: any Channel
    let client: String

    nonisolated var unownedExecutor: UnownedSerialExecutor {
        channel.eventLoop.executor.asUnownedSerialExecutor()
    }

    var pendingUser: String?
    var login: FTPLogin?
    var directory = "/"
    var asciiMode = false
    var restartOffset = 0
    var tlsOnControl = false
    var protectData = false
    /// Where the next data connection comes from.
    enum DataPlan {
        case none
        case passive(NIOAsyncChannel<DataChannel, Never>)
        case active(host: String, port: Int)
    }

    var dataPlan = DataPlan.none

    init(server: FTPServer, channel: any Channel) {
        self.server = server
        self.channel = channel
        client = channel.remoteAddress?.ipAddress ?? "unknown"
    }

    var configuration: FTPServerConfiguration { server.configuration }
    var provider: any FTPFileProvider { server.provider }

    /// Sends a reply without waiting for it: replies leave in the order they are made, and a command's latency
    /// (three per file: EPSV, SIZE, RETR) is what a client feels.
    func reply(_ code: Int, _ text: String) async throws {
        channel.writeAndFlush(ByteBuffer(string: FTPReply(code, text).wire), promise: nil)
    }

    func run(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>) async throws {
        try await reply(220, "autoprov FTP server ready")
        var pending = ByteBuffer()
        defer { if case .passive(let listener) = dataPlan { Task { await FTPSession.discard(listener) } } }
        for try await chunk in inbound {
            var chunk = chunk
            pending.writeBuffer(&chunk)
            while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let length = newline - pending.readerIndex
                let line = pending.readString(length: length) ?? ""
                pending.moveReaderIndex(forwardBy: 1)
                guard line.utf8.count <= configuration.maximumLineLength else {
                    try await reply(500, "Command line too long")
                    return
                }
                guard try await handle(line) else { return }
            }
            if pending.readableBytes > configuration.maximumLineLength {
                try await reply(500, "Command line too long")
                return
            }
            pending.discardReadBytes()
        }
    }

    /// Carries out one command; false when the session is over.
    private func handle(_ line: String) async throws -> Bool {
        guard let command = FTPCommand(line: line) else {
            try await reply(500, "Syntax error, command unrecognized")
            return true
        }
        let argument = command.argument
        switch command.verb {
        case "QUIT":
            try await reply(221, "Goodbye")
            return false
        case "NOOP": try await reply(200, "OK")
        case "SYST": try await reply(215, "UNIX Type: L8")
        case "FEAT":
            var features = ["EPRT", "EPSV", "MDTM", "MLST type*;size*;modify*;", "PASV", "REST STREAM", "SIZE",
                            "TVFS", "UTF8"]
            if configuration.tls != nil { features += ["AUTH TLS", "PBSZ", "PROT"] }
            try await reply(211, (["Features:"] + features + ["End"]).joined(separator: "\n"))
        case "OPTS":
            let option = argument.uppercased()
            if option == "UTF8 ON" || option == "UTF8" {
                try await reply(200, "UTF8 is always on")
            } else if option.hasPrefix("MLST") {
                try await reply(200, "MLST OPTS type;size;modify;")
            } else {
                try await reply(501, "Option not understood")
            }
        case "AUTH": try await authenticateTLS(argument)
        case "PBSZ":
            guard tlsOnControl else { return try await refuse(503, "Use AUTH TLS first") }
            try await reply(200, "PBSZ=0")
        case "PROT":
            guard tlsOnControl else { return try await refuse(503, "Use AUTH TLS first") }
            switch argument.uppercased() {
            case "P": protectData = true; try await reply(200, "Data connections will be protected")
            case "C": protectData = false; try await reply(200, "Data connections will be clear")
            default: try await reply(504, "Only C and P are supported")
            }
        case "CCC": try await reply(533, "The control connection stays protected")
        case "USER":
            pendingUser = argument
            login = nil
            try await reply(331, "Password required for \(argument)")
        case "PASS":
            guard let user = pendingUser else { return try await refuse(503, "Send USER first") }
            pendingUser = nil
            switch await provider.login(username: user, password: argument, client: client) {
            case .success(let accepted):
                login = accepted
                directory = "/"
                try await reply(230, accepted.isAnonymous ? "Anonymous login, read only" : "Logged in")
            case .failure(let refusal):
                if refusal.delay > .zero { try await Task.sleep(for: refusal.delay) }
                try await reply(530, "Login incorrect")
            }
        case "ACCT": try await reply(202, "No account needed")
        default:
            guard let login else {
                let known = ["PWD", "XPWD", "CWD", "XCWD", "CDUP", "XCUP", "TYPE", "MODE", "STRU", "PASV", "EPSV",
                             "PORT", "EPRT", "LIST", "NLST", "MLSD", "MLST", "SIZE", "MDTM", "RETR", "STOR", "REST",
                             "ABOR"]
                return try await refuse(known.contains(command.verb) ? 530 : 502,
                                        known.contains(command.verb) ? "Please log in with USER and PASS"
                                            : "Command not implemented")
            }
            try await handleLoggedIn(command, login: login)
        }
        return true
    }

    private func refuse(_ code: Int, _ text: String) async throws -> Bool {
        try await reply(code, text)
        return true
    }

    private func handleLoggedIn(_ command: FTPCommand, login: FTPLogin) async throws {
        let argument = command.argument
        switch command.verb {
        case "PWD", "XPWD": try await reply(257, "\(FTPPath.quoted(directory)) is the current directory")
        case "CWD", "XCWD": try await changeDirectory(to: FTPPath.resolve(argument, from: directory), login: login)
        case "CDUP", "XCUP": try await changeDirectory(to: FTPPath.resolve("..", from: directory), login: login)
        case "TYPE":
            switch argument.uppercased() {
            case "A", "A N": asciiMode = true; try await reply(200, "Type set to A")
            case "I", "L 8": asciiMode = false; try await reply(200, "Type set to I")
            default: try await reply(504, "Type not supported")
            }
        case "MODE": try await reply(argument.uppercased() == "S" ? 200 : 504, argument.uppercased() == "S" ? "Mode S" : "Only mode S")
        case "STRU": try await reply(argument.uppercased() == "F" ? 200 : 504, argument.uppercased() == "F" ? "Structure F" : "Only structure F")
        case "PASV", "EPSV": try await openPassive(extended: command.verb == "EPSV", argument: argument)
        case "PORT", "EPRT":
            let target = command.verb == "PORT" ? FTPHostPort.parsePORT(argument) : FTPHostPort.parseEPRT(argument)
            guard let target else { return try await reply(501, "Bad address") }
            // No FTP bounce (RFC 2577 §3): data goes only to the client's own address, and not to a privileged port.
            guard sameHost(target.host, client), target.port >= 1024 else {
                return try await reply(504, "Data connections go only to your own address")
            }
            await closeDataPlan()
            dataPlan = .active(host: target.host, port: target.port)
            try await reply(200, "\(command.verb) command successful")
        case "REST":
            guard let offset = Int(argument), offset >= 0 else { return try await reply(501, "Bad offset") }
            restartOffset = offset
            try await reply(350, "Restarting at \(offset)")
        case "SIZE":
            switch await provider.entry(path: FTPPath.resolve(argument, from: directory), login: login, client: client) {
            case .success(let entry) where !entry.isDirectory: try await reply(213, String(entry.size))
            case .success: try await reply(550, "Not a plain file")
            case .failure(let failure): try await fail(failure)
            }
        case "MDTM":
            switch await provider.entry(path: FTPPath.resolve(argument, from: directory), login: login, client: client) {
            case .success(let entry): try await reply(213, FTPEntry.timestamp(entry.modified))
            case .failure(let failure): try await fail(failure)
            }
        case "MLST":
            let path = FTPPath.resolve(argument, from: directory)
            switch await provider.entry(path: path, login: login, client: client) {
            case .success(var entry):
                entry.name = path
                try await reply(250, "Listing \(path)\n" + entry.machineLine() + "\nEnd")
            case .failure(let failure): try await fail(failure)
            }
        case "LIST", "NLST", "MLSD": try await list(command, login: login)
        case "RETR": try await retrieve(FTPPath.resolve(argument, from: directory), login: login)
        case "STOR": try await store(FTPPath.resolve(argument, from: directory), login: login)
        case "ABOR": try await reply(226, "No transfer in progress")
        default: try await reply(502, "Command not implemented")
        }
    }

    func fail(_ failure: FTPFailure) async throws {
        switch failure {
        case .notFound(let reason): try await reply(550, reason)
        case .denied(let reason): try await reply(550, reason)
        case .tooLarge(let limit): try await reply(552, "Upload exceeds \(limit) bytes")
        case .failed(let reason): try await reply(451, reason)
        }
    }

    private func changeDirectory(to path: String, login: FTPLogin) async throws {
        if path == "/" {
            directory = path
            return try await reply(250, "Directory changed to /")
        }
        switch await provider.entry(path: path, login: login, client: client) {
        case .success(let entry) where entry.isDirectory:
            directory = path
            try await reply(250, "Directory changed to \(path)")
        case .success: try await reply(550, "Not a directory")
        case .failure(let failure): try await fail(failure)
        }
    }

    // MARK: TLS

    private func authenticateTLS(_ argument: String) async throws {
        guard let tls = configuration.tls else { return try await reply(502, "TLS is not configured") }
        guard ["TLS", "TLS-C", "SSL"].contains(argument.uppercased()) else {
            return try await reply(504, "Only AUTH TLS")
        }
        guard !tlsOnControl else { return try await reply(503, "Already protected") }
        try await reply(234, "Proceed with TLS negotiation")
        // The 234 is already below every handler; TLS starts with the client's next bytes.
        try await channel.eventLoop.submit {
            try self.channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
        }.get()
        tlsOnControl = true
        login = nil
        pendingUser = nil
    }
}

extension FTPFailure {
    /// The request log's result word.
    var result: String {
        switch self {
        case .notFound: "not-found"
        case .denied: "forbidden"
        case .tooLarge: "too-large"
        case .failed: "failed"
        }
    }
}

/// Whether two textual addresses name the same host (an IPv4 address and its IPv4-mapped IPv6 form match).
func sameHost(_ lhs: String, _ rhs: String) -> Bool {
    func plain(_ address: String) -> String {
        address.lowercased().hasPrefix("::ffff:") ? String(address.dropFirst(7)) : address.lowercased()
    }
    return plain(lhs) == plain(rhs)
}
