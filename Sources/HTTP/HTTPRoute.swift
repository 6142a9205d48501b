import NIOHTTP1
import WireProtocols

/// Where an HTTP request goes, decided once for every path (the epoll fast path, the quick handler behind TLS and
/// the full SwiftNIO pipeline): the metrics page, a file read, an upload, or 405.
enum HTTPRoute: Equatable {
    /// `GET /metrics` on plain HTTP (Prometheus); on HTTPS it is a file like any other.
    case metrics
    /// `GET` or `HEAD` of a file (S1-S5 in the file service).
    case read
    /// `PUT` of an upload (S4).
    case write
    /// Any other method: 405 with `Allow: GET, HEAD, PUT`.
    case notAllowed

    /// The route of a request, from its method and its path (``HTTPRequestTarget/path(of:)``).
    static func of(method: HTTPMethod, path: some StringProtocol, isTLS: Bool) -> HTTPRoute {
        switch method {
        case .GET where path == "/metrics" && !isTLS: .metrics
        case .GET, .HEAD: .read
        case .PUT: .write
        default: .notAllowed
        }
    }

    /// Whether a quick path (which answers on the spot, never waits and takes no credentials) may answer: a read
    /// without an `Authorization` header. Everything else is handed to the full pipeline, as is a reply that must
    /// be held back (a slowed-down 401, ``HTTPReply/delay``).
    static func isQuick(method: HTTPMethod, path: some StringProtocol, isTLS: Bool, hasAuthorization: Bool) -> Bool {
        !hasAuthorization && of(method: method, path: path, isTLS: isTLS) == .read
    }
}
