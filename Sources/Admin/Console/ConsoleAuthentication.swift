import Foundation
import Hummingbird
import ProvisioningCore
import Storage

/// A form as a browser posts it (`application/x-www-form-urlencoded`): names to values, `+` a space, the rest
/// percent-encoded; a name given twice keeps its first value.
enum ConsoleForm {
    /// The most a form may hold: a template with room to spare.
    static let maximumBytes = 1 << 20

    static func parse(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ part: Substring) -> String {
                let spaced = part.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            let name = decoded(parts[0])
            if fields[name] == nil { fields[name] = parts.count > 1 ? decoded(parts[1]) : "" }
        }
        return fields
    }

    static func read(_ request: Request) async throws -> [String: String] {
        let body = try await request.body.collect(upTo: maximumBytes)
        return parse(String(buffer: body))
    }
}

/// The console's gate: a page needs a live session (else it is off to the login page); a post needs the session's
/// CSRF token in its form (else 403, nothing done) and a write account (else 403). The parsed form is handed on in
/// the context.
struct ConsoleAuthentication: RouterMiddleware {
    typealias Context = AdminContext
    let sessions: ConsoleSessions

    func handle(_ request: Request, context: AdminContext,
                next: (Request, AdminContext) async throws -> Response) async throws -> Response {
        guard let id = request.cookies[ConsoleSessions.cookie]?.value, let session = sessions.session(id) else {
            guard request.method == .get || request.method == .head else {
                throw ConsoleError(status: .forbidden, message: "You are not signed in (or your session ended); nothing was changed.")
            }
            return ConsoleViews.redirect("/login")
        }
        var context = context
        context.session = session
        if request.method != .get, request.method != .head {
            context.form = try await ConsoleForm.read(request)
            guard let token = context.form["csrf"], ConsoleSessions.same(token, session.csrf) else {
                throw ConsoleError(status: .forbidden,
                                   message: "This form was not sent from this console's own page (its CSRF token is missing or wrong); nothing was changed.")
            }
            guard session.role == .write else {
                throw ConsoleError(status: .forbidden, message: "Your account may only read; nothing was changed.")
            }
        }
        return try await next(request, context)
    }
}

/// A console page's failure, shown as a page with its status.
struct ConsoleError: Error {
    let status: HTTPResponse.Status
    let message: String

    static func notFound(_ message: String) -> ConsoleError { ConsoleError(status: .notFound, message: message) }
    static func badRequest(_ message: String) -> ConsoleError { ConsoleError(status: .badRequest, message: message) }

    func response(session: ConsoleSession?) -> Response {
        ConsoleViews.page("error", title: status.reasonPhrase, values: ["heading": status.reasonPhrase, "message": message],
                          session: session, status: status)
    }
}

/// Login and logout. A login form carries a token that must match the `autoprov_login` cookie set with the form
/// (login CSRF); a wrong name or password is slowed down per address as phones' wrong passwords are (S5).
struct ConsoleLogin {
    let users: any AdminUserStore
    let sessions: ConsoleSessions
    let failures: FailedLogins
    /// Whether cookies are marked Secure (the listener speaks TLS).
    let secure: Bool

    func register(on router: Router<AdminContext>) {
        router.get("login") { _, _ in self.form(error: nil, name: "", status: .ok) }
        router.post("login") { request, context in try await self.login(request, context) }
        router.post("logout") { request, _ in try await self.logout(request) }
    }

    func form(error: String?, name: String, status: HTTPResponse.Status) -> Response {
        let token = ConsoleSessions.randomToken()
        var values: [String: Any] = ["loginToken": token, "name": name]
        if let error { values["error"] = error }
        var response = ConsoleViews.page("login", title: "Log in", values: values, session: nil, status: status)
        response.setCookie(cookie(ConsoleSessions.loginCookie, token, path: "/login"))
        return response
    }

    func login(_ request: Request, _ context: AdminContext) async throws -> Response {
        let form = try await ConsoleForm.read(request)
        let name = form["name"] ?? ""
        guard let expected = request.cookies[ConsoleSessions.loginCookie]?.value, let sent = form["csrf"],
              ConsoleSessions.same(sent, expected) else {
            return self.form(error: "The login form was out of date; try again.", name: name, status: .forbidden)
        }
        let user = try users.user(named: name)
        let password = form["password"] ?? ""
        guard let user, AdminPasswords.verify(password, for: user) else {
            let delay = failures.failed(context.client)
            if delay > .zero { try await Task.sleep(for: delay) }
            return self.form(error: "Wrong name or password.", name: name, status: .unauthorized)
        }
        failures.forget(context.client)
        let session = sessions.start(user: user.name, role: user.role)
        var response = ConsoleViews.redirect("/")
        response.setCookie(cookie(ConsoleSessions.cookie, session.id, path: "/"))
        response.setCookie(cookie(ConsoleSessions.loginCookie, "", path: "/login", maxAge: 0))
        return response
    }

    /// Ends the session; a logout without the session's token is refused, so that no other site can sign one out.
    func logout(_ request: Request) async throws -> Response {
        let form = try await ConsoleForm.read(request)
        if let id = request.cookies[ConsoleSessions.cookie]?.value, let session = sessions.session(id) {
            guard let token = form["csrf"], ConsoleSessions.same(token, session.csrf) else {
                throw ConsoleError(status: .forbidden, message: "This form was not sent from this console's own page; you are still signed in.")
            }
            sessions.end(id)
        }
        var response = ConsoleViews.redirect("/login")
        response.setCookie(cookie(ConsoleSessions.cookie, "", path: "/", maxAge: 0))
        return response
    }

    private func cookie(_ name: String, _ value: String, path: String, maxAge: Int? = nil) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: path, secure: secure, httpOnly: true, sameSite: .strict)
    }
}
