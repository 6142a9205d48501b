// Admin: the administrators' listener, apart from the phones' ports (Hummingbird): the REST API under /api/v1 with
// its OpenAPI document, bearer tokens; over the same Inventory and Storage calls as the CLI.
import FileService
import Hummingbird
import HummingbirdTLS
import Inventory
import Logging
import NIOCore
import NIOSSL
import ProvisioningCore
import Storage

/// The admin listener: `/api/v1` (JSON, bearer tokens) with its OpenAPI document, and the web console (`/`, signed-in
/// accounts). Phones' listeners never answer these paths; this one answers nothing else.
public struct AdminServer: Sendable {
    let editor: InventoryEditor
    let tokens: any AdminTokenStore
    /// Administrators' accounts, for the console's login.
    let users: any AdminUserStore
    let sessions = ConsoleSessions()
    /// Whether the console's cookies are marked Secure (the listener speaks TLS).
    let secureCookies: Bool
    /// The request log, for `/requests`; nil without one.
    let log: RequestLog?
    /// The server's check-sync, for `/check-sync`.
    let checkSync: any CheckSyncSender
    /// The provisioning root, for `/resolve`.
    let root: String?
    /// Phones' uploads, for `/resolve` (this node's folder).
    let uploads: UploadStore?
    /// The versions of phones' uploads, for `/uploads` and the console: the shared store's with several nodes.
    let uploadHistory: (any UploadHistory)?
    /// The file service's counters, for the fleet page's requests per minute.
    let metrics: ServerMetrics?
    let jobs = CheckSyncJobs()
    let failures = FailedLogins()
    let logger: Logger

    public init(editor: InventoryEditor, tokens: any AdminTokenStore, users: any AdminUserStore, log: RequestLog?,
                checkSync: any CheckSyncSender, root: String?, uploads: UploadStore?,
                uploadHistory: (any UploadHistory)? = nil, metrics: ServerMetrics? = nil,
                secureCookies: Bool = false, logger: Logger) {
        self.uploadHistory = uploadHistory ?? uploads
        self.metrics = metrics
        self.users = users
        self.secureCookies = secureCookies
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
        router.add(middleware: APIErrorMiddleware(logger: logger, sessions: sessions))
        let api = router.group("api/v1")
        api.get("openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.served)))
        }
        let authenticated = api.group().add(middleware: BearerAuthentication(tokens: tokens, failures: failures))
        let devices = DevicesAPI(editor: editor)
        let templates = TemplatesAPI(editor: editor)
        let phoneView = PhoneViewAPI(editor: editor, log: log, root: root, uploads: uploads)
        let checkSync = CheckSyncAPI(editor: editor, sender: checkSync, jobs: jobs)
        devices.register(on: authenticated)
        templates.register(on: authenticated)
        phoneView.register(on: authenticated)
        checkSync.register(on: authenticated)
        UploadsAPI(uploads: uploadHistory, store: editor.store).register(on: authenticated)

        // The web console: pages for a signed-in account, over the same calls as the API.
        router.get("console.css") { _, _ in ConsoleViews.asset(ConsoleViews.css, type: "text/css; charset=utf-8") }
        router.get("console.js") { _, _ in ConsoleViews.asset(ConsoleViews.script, type: "text/javascript; charset=utf-8") }
        ConsoleLogin(users: users, sessions: sessions, failures: failures, secure: secureCookies).register(on: router)
        let console = router.group().add(middleware: ConsoleAuthentication(sessions: sessions))
        ConsolePages(editor: editor, log: log, devicesAPI: devices, phoneView: phoneView, checkSync: checkSync,
                     uploads: uploadHistory, metrics: metrics).register(on: console)
        ConsoleTemplatePages(editor: editor, api: templates).register(on: console)
        return router
    }

    /// Serves on `host:port` (over TLS when given) until the service group shuts down; `onListening` is told the
    /// bound address.
    public func run(host: String, port: Int, tls: TLSConfiguration? = nil,
                    onListening: @escaping @Sendable (SocketAddress) -> Void) async throws {
        let application = Application(
            router: router(),
            server: try tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
            configuration: .init(address: .hostname(host, port: port), serverName: "autoprov"),
            onServerRunning: { channel in
                if let address = channel.localAddress { onListening(address) }
            },
            logger: logger)
        try await application.run()
    }
}
