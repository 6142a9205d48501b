import FileService
import Foundation
import NIOCore
import NIOPosix
import WireProtocols

/// FTP: a thin front-end that turns commands into ``FileService`` calls (S1, S2, S4, S5 hold there). A login's
/// user name and password travel with every request, so a `[[directory]]`'s credentials open that directory on
/// FTP exactly as on HTTP.
public struct FTPFrontEnd: FTPFileProvider {
    let service: FileService
    /// FTP sessions per client address (S6).
    let sessionLimits: ConnectionLimits
    /// How long a session has to log in.
    let loginTimeout: Duration
    /// How long an EPSV reply is held (`[ftp] epsv_reply_delay_us`).
    let epsvReplyDelay: Duration

    public init(service: FileService, sessionLimits: ConnectionLimits, loginTimeout: Duration, epsvReplyDelay: Duration) {
        self.service = service
        self.sessionLimits = sessionLimits
        self.loginTimeout = loginTimeout
        self.epsvReplyDelay = epsvReplyDelay
    }

    func request(_ path: String, _ login: FTPLogin?, _ client: String) -> FileRequest {
        FileRequest(.ftp, path: path, client: client,
                    credentials: login.flatMap { $0.isAnonymous ? nil : .password(username: $0.username, password: $0.password) })
    }

    public func login(username: String, password: String, client: String) -> Result<FTPLogin, FTPLoginRefusal> {
        switch service.login(username: username, password: password, client: client) {
        case .success(.anonymous): .success(FTPLogin(username: username, password: "", isAnonymous: true))
        case .success(.account): .success(FTPLogin(username: username, password: password, isAnonymous: false))
        case .failure(let refusal): .failure(FTPLoginRefusal(delay: refusal.delay))
        }
    }

    public func read(path: String, login: FTPLogin, client: String) -> FTPRead {
        switch service.decide(request(path, login, client)) {
        case .answer(let answer):
            return .answered(FTPFrontEnd.result(answer))
        case .load(let pending):
            let service = self.service
            return .load { FTPFrontEnd.result(await service.load(pending)) }
        }
    }

    private static func result(_ answer: ReadAnswer) -> Result<ByteBuffer, FTPFailure> {
        switch answer {
        case .file(let file): .success(file.contents)
        case .notFound: .failure(.notFound("No such file"))
        case .forbidden(let reason): .failure(.denied(reason))
        case .unauthorized(let realm, _, _): .failure(.denied("directory '\(realm)' needs its credentials"))
        }
    }

    public func uploadLimit(path: String, login: FTPLogin, client: String) -> Result<Int, FTPFailure> {
        switch service.uploadPermission(request(path, login, client)) {
        case .success(let permission): .success(permission.limit)
        case .failure(.forbidden(let reason)): .failure(.denied(reason))
        case .failure(.unauthorized(let realm, _, _)): .failure(.denied("directory '\(realm)' needs its credentials"))
        }
    }

    public func write(path: String, contents: ByteBuffer, login: FTPLogin, client: String) async -> FTPFailure? {
        switch await service.write(request(path, login, client), contents: contents) {
        case .created, .replaced: nil
        case .tooLarge(let limit): .tooLarge(limit)
        case .forbidden(let reason): .denied(reason)
        case .unauthorized(let realm, _, _): .denied("directory '\(realm)' needs its credentials")
        case .failed(let reason), .unavailable(let reason): .failed(reason)
        }
    }

    public func list(path: String, login: FTPLogin, client: String) -> Result<[FTPEntry], FTPFailure> {
        FTPFrontEnd.entries(service.list(request(path, login, client)))
    }

    private static func entries(_ answer: FileService.ListAnswer) -> Result<[FTPEntry], FTPFailure> {
        switch answer {
        case .entries(let entries):
            return .success(entries.sorted { $0.key < $1.key }.map { name, facts in
                FTPEntry(name: name, isDirectory: facts.isDirectory, size: facts.size, modified: facts.modified)
            })
        case .entry: return .failure(.notFound("Not a directory"))
        case .notFound: return .failure(.notFound("No such directory"))
        case .forbidden(let reason): return .failure(.denied(reason))
        }
    }

    public func entry(path: String, login: FTPLogin, client: String) -> Result<FTPEntry, FTPFailure> {
        let request = request(path, login, client)
        let name = path.split(separator: "/").last.map(String.init) ?? "/"
        switch service.entry(request) {
        case .entry(let facts):
            return .success(FTPEntry(name: name, isDirectory: facts.isDirectory, size: facts.size, modified: facts.modified))
        case .entries: return .success(FTPEntry(name: name, isDirectory: true, size: 0, modified: Date()))
        case .notFound: return .failure(.notFound("No such file or directory"))
        case .forbidden(let reason): return .failure(.denied(reason))
        }
    }

    public func finished(path: String, login: FTPLogin?, client: String, result: RequestResult, bytes: Int, seconds: Double) {
        service.record(request(path, login, client), result: result, bytes: bytes, seconds: seconds)
    }

    public func loginTimedOut(client: String) {
        service.metrics.event("login-timeout")
    }
}
