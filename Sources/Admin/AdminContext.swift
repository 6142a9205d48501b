import Hummingbird
import Storage

/// A request on the admin listener, and who is asking once its token said so.
public struct AdminContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The role of the request's token; nil until ``BearerAuthentication`` has checked it.
    public var role: AdminRole?

    /// The console's signed-in session, once ``ConsoleAuthentication`` has found it.
    var session: ConsoleSession?
    /// A console post's form fields, read and checked by ``ConsoleAuthentication``.
    var form: [String: String] = [:]

    /// The client's address, for slowing down its failed logins.
    public let client: String

    public init(source: Source) {
        coreContext = .init(source: source)
        client = source.channel.remoteAddress?.ipAddress ?? "?"
    }

    /// Bodies larger than this are refused (413) before they are read whole.
    public var maxUploadSize: Int { APIRequestBody.maximumBytes }
}
