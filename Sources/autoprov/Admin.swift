import Admin
import ArgumentParser
import Foundation
import Storage

/// `autoprov admin`: who may use the admin listener (`[admin] listen`).
struct AdminCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Accounts and API tokens for the admin listener (the REST API under /api/v1).",
        subcommands: [User.self, Token.self])

    struct User: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add, list and remove administrators' accounts (PBKDF2-SHA256, 600,000 rounds, a salt each).",
            subcommands: [Add.self, List.self, Remove.self])

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add an account; the password is asked on the terminal (twice) or read from --password-file.")
            @OptionGroup var store: InventoryOptions
            @Argument(help: "Its name.") var name: String
            @Option(help: "read (everything but secrets) or write.") var role: AdminRole = .read
            @Option(help: "A file whose first line is the password.") var passwordFile: String?

            func run() throws {
                try reportingFailures {
                    guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isLetter || $0.isNumber || "._-@".contains($0) })
                    else { throw UsageFailure("an account name is 1 to 64 letters, digits, '.', '_', '-' or '@'") }
                    let password = try readPassword()
                    guard password.count >= 8 else { throw UsageFailure("the password must have at least 8 characters") }
                    let accounts: any AdminUserStore = try store.openAdmins()
                    do {
                        try accounts.addUser(try AdminPasswords.account(name: name, role: role, password: password))
                    } catch let refused as AdminUserError {
                        throw UsageFailure("\(refused)")
                    }
                    emit("account \(name) added (\(role.rawValue))\n")
                }
            }

            private func readPassword() throws -> String {
                if let passwordFile {
                    guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                        throw UsageFailure("\(passwordFile): cannot read the password file")
                    }
                    return String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
                }
                guard isatty(STDIN_FILENO) == 1 else {
                    return readLine(strippingNewline: true) ?? ""
                }
                let first = String(cString: getpass("Password: "))
                let second = String(cString: getpass("Again: "))
                guard first == second else { throw UsageFailure("the two passwords differ") }
                return first
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List accounts: name, role, created (never a hash).")
            @OptionGroup var store: InventoryOptions

            func run() throws {
                try reportingFailures {
                    let accounts: any AdminUserStore = try store.openAdmins()
                    let formatter = ISO8601DateFormatter()
                    var text = "NAME  ROLE  CREATED\n"
                    for user in try accounts.users() {
                        text += "\(user.name)  \(user.role.rawValue)  "
                            + formatter.string(from: Date(timeIntervalSince1970: user.created)) + "\n"
                    }
                    emit(text)
                }
            }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove an account.")
            @OptionGroup var store: InventoryOptions
            @Argument(help: "The account's name.") var name: String

            func run() throws {
                try reportingFailures {
                    let accounts: any AdminUserStore = try store.openAdmins()
                    do {
                        try accounts.removeUser(named: name)
                    } catch let refused as AdminUserError {
                        throw UsageFailure("\(refused)")
                    }
                }
            }
        }
    }

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
                let tokens: any AdminTokenStore = try store.openAdmins()
                return tokens
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List tokens: name, role, created (never the token).")
            @OptionGroup var store: InventoryOptions

            func run() throws {
                try reportingFailures {
                    let tokens: any AdminTokenStore = try store.openAdmins()
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
                    let tokens: any AdminTokenStore = try store.openAdmins()
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
