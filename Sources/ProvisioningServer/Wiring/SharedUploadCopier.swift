import FileService
import Logging
import NIOPosix
import ServiceLifecycle
import Storage

/// With several nodes: copies each upload stored through another node into this node's folder as soon as the shared
/// store announces it, and compares every path at each connection (at start, and after one was lost, when
/// announcements may have been missed). A copy that fails is tried again at the next connection.
struct SharedUploadCopier: Service {
    let service: FileService
    let shared: any SharedUploadStore
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await change in shared.changes() {
                do {
                    // Off the cooperative threads: the store's calls and the folder's writes block.
                    try await NIOThreadPool.singleton.runIfActive {
                        guard let path = change else {
                            let copied = try service.copySharedUploads()
                            if copied > 0 {
                                logger.notice("uploads copied from the shared store", metadata: ["files": "\(copied)"])
                            }
                            return
                        }
                        try service.copySharedUpload(path)
                    }
                } catch {
                    logger.error("cannot copy uploads from the shared store", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
