import NIOCore
import NIOPosix
import ProvisioningCore

/// One FTP retrieval (RFC 959, EPSV from RFC 2428) as a phone makes it: log in (the URL's user and password, else
/// the phone's credentials, else anonymous), binary type, an extended passive data connection, RETR, QUIT.
struct FTPDownload {
    let url: ProvisioningURL
    let group: EventLoopGroup
    let timeout: TimeAmount
    let username: String?
    let password: String?

    func run() -> PhoneClient.Attempt {
        do {
            let session = try FTPControl(host: url.connectHost, port: url.port, group: group, timeout: timeout)
            defer { session.close() }
            guard try session.reply().code == 220 else { return .failed("no FTP greeting") }
            let (user, pass) = credentials()
            var login = try session.send("USER \(user)")
            if login.code == 331 { login = try session.send("PASS \(pass)") }
            guard login.code == 230 else { return .refused("\(login.code)") }
            guard try session.send("TYPE I").code == 200 else { return .failed("TYPE I refused") }
            let passive = try session.send("EPSV")
            guard passive.code == 229, let port = FTPDownload.epsvPort(passive.text) else {
                return .failed("EPSV refused (\(passive.code))")
            }
            let data = try FTPData.open(host: url.connectHost, port: port, group: group, timeout: timeout)
            let path = ProvisioningURL.percentDecoded(url.path)
            let started = try session.send("RETR \(path)")
            guard started.code == 150 || started.code == 125 else {
                data.close()
                return started.code == 550 ? .notFound("550") : .refused("\(started.code)")
            }
            let bytes = try data.received()
            let done = try session.reply()
            _ = try? session.send("QUIT")
            return done.code == 226 || done.code == 250 ? .found("226", bytes) : .failed("\(done.code)")
        } catch {
            return .failed(PhoneClient.describe(error))
        }
    }

    /// The URL's `user:password@`, else the phone's, else anonymous.
    func credentials() -> (String, String) {
        if let at = url.authority.lastIndex(of: "@") {
            let info = url.authority[..<at].split(separator: ":", maxSplits: 1).map { ProvisioningURL.percentDecoded(String($0)) }
            return (info[0], info.count > 1 ? info[1] : "")
        }
        if let username, let password { return (username, password) }
        return ("anonymous", "phone@")
    }

    /// The port of `229 Entering Extended Passive Mode (|||PORT|)`.
    static func epsvPort(_ text: String) -> Int? {
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        let inside = text[text.index(after: open)..<close]
        return inside.split(separator: "|", omittingEmptySubsequences: true).last.flatMap { Int($0) }
    }
}

/// An FTP control connection read reply by reply from the calling thread.
private final class FTPControl {
    struct Reply {
        var code: Int
        var text: String
    }

    let channel: Channel
    let reader: NIOLoopBound<ReplyReader>
    let timeout: TimeAmount

    init(host: String, port: Int, group: EventLoopGroup, timeout: TimeAmount) throws {
        self.timeout = timeout
        let loop = group.next()
        let reader = try loop.submit { NIOLoopBound(ReplyReader(), eventLoop: loop) }.wait()
        channel = try ClientBootstrap(group: loop).connectTimeout(timeout).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(reader.value) }
        }.connect(host: host, port: port).wait()
        self.reader = reader
    }

    func reply() throws -> Reply {
        let (reader, loop) = (self.reader, channel.eventLoop)
        let future = loop.flatSubmit { reader.value.next(on: loop) }
        let deadline = loop.scheduleTask(in: timeout) { reader.value.fail(SimulationTimeout()) }
        defer { deadline.cancel() }
        return try future.wait()
    }

    func send(_ command: String) throws -> Reply {
        try channel.writeAndFlush(ByteBuffer(string: command + "\r\n")).wait()
        return try reply()
    }

    func close() { channel.close(promise: nil) }
}

/// Splits the control connection into replies (a multi-line one ends at `NNN ` after `NNN-`) and hands them out in
/// order to whoever waits.
private final class ReplyReader: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var pending: [UInt8] = []
    var replies: [FTPControl.Reply] = []
    var waiting: EventLoopPromise<FTPControl.Reply>?
    var failure: (any Error)?
    /// The lines of a multi-line reply so far.
    var open: (code: Int, lines: [String])?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending += unwrapInboundIn(data).readableBytesView
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: pending[..<newline], as: UTF8.self).trimmingTrailingReturn
            pending.removeSubrange(...newline)
            take(line)
        }
    }

    private func take(_ line: String) {
        let code = Int(line.prefix(3))
        let separator = line.dropFirst(3).first
        if let current = open {
            open?.lines.append(line)
            if code == current.code, separator == " " {
                deliver(.init(code: current.code, text: (current.lines + [line]).joined(separator: "\n")))
                open = nil
            }
        } else if let code, separator == "-" {
            open = (code, [line])
        } else if let code {
            deliver(.init(code: code, text: line))
        }
    }

    private func deliver(_ reply: FTPControl.Reply) {
        if let waiting {
            self.waiting = nil
            waiting.succeed(reply)
        } else {
            replies.append(reply)
        }
    }

    func next(on loop: EventLoop) -> EventLoopFuture<FTPControl.Reply> {
        if !replies.isEmpty { return loop.makeSucceededFuture(replies.removeFirst()) }
        if let failure { return loop.makeFailedFuture(failure) }
        let promise = loop.makePromise(of: FTPControl.Reply.self)
        waiting = promise
        return promise.futureResult
    }

    func fail(_ error: any Error) {
        failure = failure ?? error
        waiting?.fail(error)
        waiting = nil
    }

    func channelInactive(context: ChannelHandlerContext) { fail(ChannelError.eof) }
    func errorCaught(context: ChannelHandlerContext, error: any Error) { fail(error) }
}

/// A passive data connection: everything the server sends until it closes.
private final class FTPData {
    let channel: Channel
    let done: EventLoopFuture<[UInt8]>
    let timeout: TimeAmount

    private init(channel: Channel, done: EventLoopFuture<[UInt8]>, timeout: TimeAmount) {
        self.channel = channel
        self.done = done
        self.timeout = timeout
    }

    static func open(host: String, port: Int, group: EventLoopGroup, timeout: TimeAmount) throws -> FTPData {
        let loop = group.next()
        let promise = loop.makePromise(of: [UInt8].self)
        let channel = try ClientBootstrap(group: loop).connectTimeout(timeout).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(promise: promise)) }
        }.connect(host: host, port: port).wait()
        return FTPData(channel: channel, done: promise.futureResult, timeout: timeout)
    }

    func received() throws -> [UInt8] {
        let deadline = channel.eventLoop.scheduleTask(in: timeout) { [channel] in channel.close(promise: nil) }
        defer { deadline.cancel() }
        return try done.wait()
    }

    func close() { channel.close(promise: nil) }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<[UInt8]>
        var bytes: [UInt8] = []

        init(promise: EventLoopPromise<[UInt8]>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) { bytes += unwrapInboundIn(data).readableBytesView }
        func channelInactive(context: ChannelHandlerContext) { promise.succeed(bytes) }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }
    }
}

extension String {
    var trimmingTrailingReturn: String { hasSuffix("\r") ? String(dropLast()) : self }
}
