// Admin: the administrators' listener, apart from the phones' ports (Hummingbird): the REST API under /api/v1 with
// its OpenAPI document, bearer tokens; over the same Inventory and Storage calls as the CLI.
import FileService
import Hummingbird
import Inventory
import Logging
import NIOCore
import ProvisioningCore
import Storage

/// The admin listener: `/api/v1` (JSON, bearer tokens) and its OpenAPI document. Phones' listeners never answer
/// these paths; this one answers nothing else.
public struct AdminServer: Sendable {
    let editor: InventoryEditor
    let tokens: any AdminTokenStore
    /// The request log, for `/requests`; nil without one.
    let log: RequestLog?
    /// The server's check-sync, for `/check-sync`.
    let checkSync: any CheckSyncSender
    /// The provisioning root, for `/resolve`.
    let root: String?
    /// Phones' uploads, for `/uploads`.
    let uploads: UploadStore?
    let jobs = CheckSyncJobs()
    let failures = FailedLogins()
    let logger: Logger

    public init(editor: InventoryEditor, tokens: any AdminTokenStore, log: RequestLog?, checkSync: any CheckSyncSender,
                root: String?, uploads: UploadStore?, logger: Logger) {
        self.root = root
        self.uploads = uploads
        self.editor = editor
        self.tokens = tokens
        self.log = log
        self.checkSync = checkSync
        self.logger = logger
    }

    /// The routes, for a listener or a test.
    public func router() -> Router<AdminContext> {
        let router = Router(context: AdminContext.self)
        router.add(middleware: APIErrorMiddleware(logger: logger))
        let api = router.group("api/v1")
        api.get("openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.served)))
        }
        let authenticated = api.group().add(middleware: BearerAuthentication(tokens: tokens, failures: failures))
        DevicesAPI(editor: editor).register(on: authenticated)
        TemplatesAPI(editor: editor).register(on: authenticated)
        PhoneViewAPI(editor: editor, log: log, root: root, uploads: uploads).register(on: authenticated)
        CheckSyncAPI(editor: editor, sender: checkSync, jobs: jobs).register(on: authenticated)
        UploadsAPI(uploads: uploads, store: editor.store).register(on: authenticated)
        return router
    }

    /// Serves on `host:port` until the service group shuts down; `onListening` is told the bound address.
    public func run(host: String, port: Int, onListening: @escaping @Sendable (SocketAddress) -> Void) async throws {
        let application = Application(
            router: router(),
            configuration: .init(address: .hostname(host, port: port), serverName: "autoprov"),
            onServerRunning: { channel in
                if let address = channel.localAddress { onListening(address) }
            },
            logger: logger)
        try await application.run()
    }
}
