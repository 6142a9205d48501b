import FileService
import NIOCore
import WireProtocols

/// TFTP: a thin front-end that turns transfers into ``FileService`` calls (S1, S2, S4, S5 hold there).
public struct TFTPFrontEnd: TFTPFileProvider {
    let service: FileService

    public init(service: FileService) {
        self.service = service
    }

    private func request(_ path: String, _ client: SocketAddress) -> FileRequest {
        FileRequest(.tftp, path: path, client: client.ipAddress ?? "unknown")
    }

    public func read(path: String, client: SocketAddress) async -> Result<ByteBuffer, TFTPError> {
        TFTPFrontEnd.answer(await service.read(request(path, client)))
    }

    public func readNow(path: String, client: SocketAddress) -> Result<ByteBuffer, TFTPError>? {
        switch service.decide(request(path, client)) {
        case .answer(let answer): TFTPFrontEnd.answer(answer)
        case .load: nil
        }
    }

    private static func answer(_ answer: ReadAnswer) -> Result<ByteBuffer, TFTPError> {
        switch answer {
        case .file(let file): .success(file.contents)
        case .notFound: .failure(TFTPError(code: .fileNotFound, message: "file not found"))
        case .forbidden(let reason): .failure(TFTPError(code: .accessViolation, message: reason))
        case .unauthorized: .failure(TFTPError(code: .accessViolation, message: "credentials required"))
        }
    }

    public func prepareWrite(path: String, client: SocketAddress) async -> Result<Int, TFTPError> {
        switch service.uploadPermission(request(path, client)) {
        case .success(let permission): .success(permission.limit)
        case .failure(.forbidden(let reason)): .failure(TFTPError(code: .accessViolation, message: reason))
        case .failure(.unauthorized): .failure(TFTPError(code: .accessViolation, message: "credentials required"))
        }
    }

    public func write(path: String, contents: ByteBuffer, client: SocketAddress) async -> TFTPError? {
        switch await service.write(request(path, client), contents: contents) {
        case .created, .replaced: nil
        case .tooLarge(let limit): TFTPError(code: .diskFull, message: "upload exceeds \(limit) bytes")
        case .forbidden(let reason): TFTPError(code: .accessViolation, message: reason)
        case .unauthorized: TFTPError(code: .accessViolation, message: "credentials required")
        case .failed(let reason): TFTPError(code: .diskFull, message: reason)
        case .unavailable(let reason): TFTPError(code: .notDefined, message: reason)
        }
    }

    public func finished(_ summary: TFTPTransferSummary) {
        let result: RequestResult
        var bytes = 0
        switch summary.result {
        case .completed(let count):
            result = summary.isWrite ? .stored : .ok
            bytes = count
        case .failed(_, let count):
            bytes = count
            switch summary.refusal?.code {
            case .fileNotFound: result = .notFound
            case .accessViolation: result = .forbidden
            case .some: result = .refused
            case nil: result = .failed
            }
        }
        service.record(request(summary.path, summary.client), result: result, bytes: bytes, seconds: summary.seconds)
    }
}
