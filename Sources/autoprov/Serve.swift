import Settings
import ArgumentParser
import Foundation
import Logging
import ProvisioningServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a provisioning root over TFTP, HTTP, HTTPS and FTP(S), and answer SIP Plug-and-Play.",
        discussion: """
            With no flags: serves ./provisioning (created with example files if absent), keeps state in \
            ./autoprov-data, and listens on the standard ports (TFTP 69, HTTP 80, HTTPS 443, FTP 21, PnP 5060/udp). A listener given \
            as 'off' is not started. Flags override the configuration file; 'autoprov serve --print-config' \
            prints the documented file with every default. SIGTERM/SIGINT stop it gracefully.
            """
    )

    @Option(help: "A TOML configuration file.")
    var config: String?

    @Option(help: "The provisioning root.")
    var root: String?

    @Option(help: "The data folder.")
    var data: String?

    @Option(help: "TFTP listener, HOST:PORT or off.")
    var tftp: String?

    @Option(help: "HTTP listener, HOST:PORT or off.")
    var http: String?

    @Option(help: "HTTPS listener, HOST:PORT or off.")
    var https: String?

    @Option(help: "FTP and FTPS listener, HOST:PORT or off.")
    var ftp: String?

    @Option(help: "The admin listener (REST API), HOST:PORT or off.")
    var admin: String?

    @Option(help: "SIP Plug-and-Play responder (UDP), HOST:PORT or off.")
    var pnp: String?

    @Flag(help: "Print the documented configuration file and exit.")
    var printConfig = false

    func run() async throws {
        try await serve()
    }

    /// Runs the server (called from main.swift, which cannot rely on ArgumentParser picking the async `run`).
    func serve() async throws {
        if printConfig {
            emit(ServerConfiguration.exampleFile)
            return
        }
        var configuration = ServerConfiguration()
        do {
            if let config { configuration = try ServerConfiguration.load(file: config) }
            if let root { configuration.root = root }
            if let data { configuration.data = data }
            if let tftp { configuration.tftp = try .parse(tftp) }
            if let http { configuration.http = try .parse(http) }
            if let https { configuration.https = try .parse(https) }
            if let ftp { configuration.ftp = try .parse(ftp) }
            if let pnp { configuration.pnp = try .parse(pnp) }
            if let admin { configuration.admin = try .parse(admin) }
        } catch {
            fail("\(error)")
        }
        var logger = Logger(label: "autoprov")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .notice
        do {
            if try ExampleRoot.createIfMissing(at: configuration.root) {
                emit("autoprov: created \(configuration.root)/ with example files\n")
            }
            let server = ProvisioningServer(configuration: configuration, logger: logger)
            emit("autoprov: serving \(configuration.root)/, state in \(configuration.data)/\n")
            try await server.run { listener in
                let host = listener.address.ipAddress ?? "?"
                let port = listener.address.port.map(String.init) ?? "?"
                let bound = "\(host.contains(":") ? "[\(host)]" : host):\(port)"
                emit(listener.name == "admin"
                    ? "autoprov: admin listening on \(bound); the console is \(listener.phoneURL), the API \(listener.phoneURL)api/v1/ (not for phones)\n"
                    : "autoprov: \(listener.name) listening on \(bound); give phones \(listener.phoneURL)\n")
            }
        } catch {
            fail("\(error)")
        }
    }

    private func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("autoprov: error: \(message)\n".utf8))
        Foundation.exit(2)
    }
}
