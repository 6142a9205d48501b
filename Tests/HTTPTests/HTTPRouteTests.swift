@testable import HTTP
import NIOHTTP1
import Testing
import WireProtocols

/// The one routing decision every HTTP path asks (the epoll fast path, the quick handler, the full pipeline).
@Suite("HTTP routing: metrics, reads, uploads, 405; what a quick path may answer", .timeLimit(.minutes(2)))
struct HTTPRouteTests {
    @Test("routes by method and path; /metrics only on plain HTTP", arguments: [
        (HTTPMethod.GET, "/metrics", false, HTTPRoute.metrics), (.GET, "/metrics", true, .read),
        (.HEAD, "/metrics", false, .read), (.GET, "/y000000000000.boot", false, .read), (.HEAD, "/a.cfg", true, .read),
        (.PUT, "/00156574b150-local.cfg", false, .write), (.PUT, "/metrics", false, .write),
        (.POST, "/a.cfg", false, .notAllowed), (.DELETE, "/a.cfg", true, .notAllowed), (.OPTIONS, "*", false, .notAllowed),
    ])
    func route(method: HTTPMethod, path: String, isTLS: Bool, expected: HTTPRoute) {
        #expect(HTTPRoute.of(method: method, path: path, isTLS: isTLS) == expected)
    }

    @Test("a quick path answers reads without credentials; metrics, uploads and Authorization go to the full pipeline")
    func quick() {
        #expect(HTTPRoute.isQuick(method: .GET, path: "/a.cfg", isTLS: false, hasAuthorization: false))
        #expect(HTTPRoute.isQuick(method: .HEAD, path: "/a.cfg", isTLS: true, hasAuthorization: false))
        #expect(!HTTPRoute.isQuick(method: .GET, path: "/a.cfg", isTLS: false, hasAuthorization: true))
        #expect(!HTTPRoute.isQuick(method: .GET, path: "/metrics", isTLS: false, hasAuthorization: false))
        #expect(HTTPRoute.isQuick(method: .GET, path: "/metrics", isTLS: true, hasAuthorization: false))
        #expect(!HTTPRoute.isQuick(method: .PUT, path: "/a.cfg", isTLS: false, hasAuthorization: false))
    }

    @Test("the path of a target: query and fragment dropped, absolute form reduced; the scanner agrees", arguments: [
        ("/a.cfg", "/a.cfg"), ("/a.cfg?mac=1", "/a.cfg"), ("/a.cfg#x", "/a.cfg"), ("/d/%2e%2e/a.cfg?x#y", "/d/%2e%2e/a.cfg"),
        ("/?", "/"), ("http://192.0.2.1:8080/T46/a.cfg?x", "/T46/a.cfg"), ("https://host/", "/"),
    ])
    func path(target: String, expected: String) {
        #expect(HTTPRequestTarget.path(of: Substring(target)) == Substring(expected))
        // The fast path's scanner takes origin-form targets only, and must name the same file.
        guard target.hasPrefix("/") else { return }
        let head = "GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n"
        guard case .request(let scanned) = Array(head.utf8).withUnsafeBytes({ HTTPHeadScanner.scan($0) }) else {
            Issue.record("the scanner did not take \(target)")
            return
        }
        #expect(scanned.path == expected)
    }

    @Test("an Authorization header: Basic read to a user name and a password (the first colon splits them), Digest's parameters passed on, anything else no credentials (RFC 7617, RFC 7616)", arguments: [
        ("Basic YWRtaW46cGE6c3M=", HTTPAuthorization.basic(username: "admin", password: "pa:ss")),
        ("basic  YWRtaW46 ", .basic(username: "admin", password: "")),
        ("Digest username=\"a\", realm=\"r\"", .digest("username=\"a\", realm=\"r\"")),
        ("Basic bm9jb2xvbg==", nil), ("Basic !!!", nil), ("Bearer abc", nil), ("Basic", nil), ("", nil),
    ])
    func authorization(header: String, expected: HTTPAuthorization?) {
        #expect(HTTPAuthorization(header: header) == expected)
    }
}
