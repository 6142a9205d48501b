import Admin
import ArgumentParser
import Foundation
import Storage

/// `autoprov admin`: who may use the admin listener (`[admin] listen`).
struct AdminCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "API tokens for the admin listener (the REST API under /api/v1).",
        subcommands: [Token.self])

    struct Token: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create, list and revoke API tokens.",
            subcommands: [Create.self, List.self, Revoke.self])

        struct Create: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create a token and print it, once: only its SHA-256 is stored.")
            @OptionGroup var store: InventoryOptions
            @Option(help: "Its name, to list and revoke it by.") var name: String
            @Option(help: "read (everything but secrets) or write.") var role: AdminRole = .read

            func run() throws {
                try reportingFailures {
                    guard !name.isEmpty, name.count <= 64, !name.contains(where: \.isNewline) else {
                        throw UsageFailure("a token name is 1 to 64 characters on one line")
                    }
                    let token = AdminTokens.newToken()
                    do {
                        try tokens().addToken(AdminToken(name: name, role: role, digest: AdminTokens.digest(token),
                                                         created: Date().timeIntervalSince1970))
                    } catch let refused as AdminTokenError {
                        throw UsageFailure("\(refused)")
                    }
                    emit("\(token)\n")
                }
            }

            func tokens() throws -> any AdminTokenStore {
                guard let tokens = try store.open() as? any AdminTokenStore else { throw UsageFailure("this store keeps no tokens") }
                return tokens
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List tokens: name, role, created (never the token).")
            @OptionGroup var store: InventoryOptions

            func run() throws {
                try reportingFailures {
                    guard let tokens = try store.open() as? any AdminTokenStore else { return }
                    let formatter = ISO8601DateFormatter()
                    var text = "NAME  ROLE  CREATED\n"
                    for token in try tokens.tokens() {
                        text += "\(token.name)  \(token.role.rawValue)  "
                            + formatter.string(from: Date(timeIntervalSince1970: token.created)) + "\n"
                    }
                    emit(text)
                }
            }
        }

        struct Revoke: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke a token: refused from its next request on.")
            @OptionGroup var store: InventoryOptions
            @Argument(help: "The token's name.") var name: String

            func run() throws {
                try reportingFailures {
                    guard let tokens = try store.open() as? any AdminTokenStore else { return }
                    do {
                        try tokens.revokeToken(named: name)
                    } catch let refused as AdminTokenError {
                        throw UsageFailure("\(refused)")
                    }
                }
            }
        }
    }
}

extension AdminRole: ExpressibleByArgument {}
