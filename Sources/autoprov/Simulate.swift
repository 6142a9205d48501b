import ArgumentParser
import Foundation
import NIOSSL
import ProvisioningCore
import Resolution
import Simulation

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Be a phone on the network: provision from a server's URL as the phone would, and show the result.",
        discussion: """
            The same algorithm as 'resolve', downloading over the URL's protocol (http, https, tftp, ftp) as a phone \
            does: <mac>.boot, y000000000000.boot, the common CFG and <mac>.cfg, includes resolved against the boot \
            file's URL, the MAC-local file applied last when protected, encrypted files read with --common-key and \
            --mac-key, the keys the phone received before (--state), or each file's <name>_Security.enc; with \
            custom.sync = 1 the phone's --local file is uploaded (HTTP PUT) when the server's copy differs. A failed download (no answer, a refused \
            connection, a server error) is tried three times, a second apart; a 404 is an answer. Credentials \
            answer a 401 (Basic or Digest). The output is resolve's, then each download with its result and time. \
            Exit status 0 when the phone reached a configuration file, 1 when it would fail, 2 on usage errors.
            """
    )

    @Option(help: ArgumentHelp("The provisioning server URL as the phone has it; may hold $PN and $MAC.", valueName: "url"))
    var url: String

    @Option(help: "The phone's MAC address.")
    var mac: String

    @Option(help: "The phone's model (T46S, T54W, ...).")
    var model: String?

    @Option(name: .customLong("user-agent"), help: "The phone's HTTP User-Agent; gives the model, and is sent as it is.")
    var userAgent: String?

    @Option(help: "The firmware version the built User-Agent names.")
    var firmware = "66.86.0.15"

    @Option(help: "A JSON file holding the phone's memory between provisionings; read if present, then written.")
    var state: String?

    @Option(help: "The phone's stored MAC-local file.")
    var local: String?

    @Option(help: "The user name the phone answers a 401 with.")
    var username: String?

    @Option(help: "The password the phone answers a 401 with.")
    var password: String?

    @Option(help: "PEM certificates to trust for HTTPS (default: the system's).")
    var ca: String?

    @Flag(help: "Accept any HTTPS certificate.")
    var insecure = false

    @Option(name: .customLong("client-cert"), help: "The phone's client certificate (PEM), for mutual TLS.")
    var clientCert: String?

    @Option(name: .customLong("client-key"), help: "The key of --client-cert (PEM).")
    var clientKey: String?

    @Option(help: "Output: cfg (the effective configuration) or json.")
    var format: Resolve.OutputFormat = .cfg

    @OptionGroup var keyOptions: FileKeyOptions

    @Flag(help: "Fetch the resource files the configuration names (R3.7: firmware, ring tones, ...); else only list them.")
    var resources = false

    func run() throws {
        var reached = false
        try reportingFailures {
            let mac: MACAddress
            do { mac = try MACAddress(self.mac) } catch { throw UsageFailure("\(error)") }
            let phoneModel = try PhoneInputs.model(model, userAgent: userAgent, mac: mac, inventoryModel: nil)
            guard (username == nil) == (password == nil) else { throw UsageFailure("give --username and --password together") }
            let client = try PhoneClient(identity: PhoneIdentity(
                userAgent: userAgent ?? PhoneIdentity.yealinkUserAgent(model: phoneModel, firmware: firmware, mac: mac),
                username: username, password: password, tls: try tls()))
            let request = ProvisioningRequest(serverURL: ServerURLTemplate(url), mac: mac, model: phoneModel,
                                              previous: try PhoneInputs.readState(state),
                                              localFile: try PhoneInputs.readLocalFile(local, given: local != nil))
            // Keys given, else those the phone received before (its state), else each file's _Security.enc.
            let keys = PhoneKeys(common: keyOptions.keys.common, mac: keyOptions.keys.mac)
                .filled(from: (request.previous?.settings ?? [:]).mapValues(\.value))
            let outcome: ProvisioningOutcome
            do {
                outcome = try Provisioning.run(request) { client.fetch($0, keys: keys) }
            } catch {
                throw UsageFailure("\(error)")
            }
            // R5.4: a phone that syncs its MAC-local file uploads it when the server's copy differs from its own.
            if let local, let target = Provisioning.localFileUploadURL(request, outcome: outcome),
               let bytes = FileManager.default.contents(atPath: local).map(Array.init) {
                let onServer = outcome.files.first { $0.role == .macLocal && $0.md5 != nil }?.md5
                if onServer != Provisioning.md5(bytes) { client.upload(bytes, to: target) }
            }
            // R3.7: the resource files the configuration names, fetched after it when asked.
            let named = ResourceFiles.listed(outcome.settings).map { listed in
                Resource(key: listed.key, value: listed.value,
                         url: ResourceFiles.url(listed.value, request: request, outcome: outcome)?.description)
            }
            if resources {
                for resource in named {
                    if let url = resource.url.flatMap({ try? ProvisioningURL($0) }) { _ = client.fetch(url) }
                }
            }
            if let state { try PhoneInputs.write(outcome.state, to: state) }
            switch format {
            case .json: emit(try Simulate.json(outcome, resources: named, transfers: client.transfers))
            case .cfg: emit(Simulate.cfg(outcome, resources: named, transfers: client.transfers))
            }
            reached = outcome.unchanged || outcome.files.contains { file in
                file.status == .applied && [.commonConfig, .macConfig, .include].contains(file.role)
            }
        }
        if !reached { throw ExitCode(1) }
    }

    /// The TLS client configuration the options describe.
    private func tls() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if insecure {
            configuration.certificateVerification = .none
        } else if let ca {
            do { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca)) } catch {
                throw UsageFailure("\(ca): not PEM certificates (\(error))")
            }
        }
        guard (clientCert == nil) == (clientKey == nil) else { throw UsageFailure("give --client-cert and --client-key together") }
        if let clientCert, let clientKey {
            do {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(clientCert).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: clientKey, format: .pem))
            } catch {
                throw UsageFailure("\(clientCert), \(clientKey): not a PEM certificate and key (\(error))")
            }
        }
        return configuration
    }

    /// A resource file the configuration names (R3.7), and where the phone fetches it.
    struct Resource: Encodable {
        let key: String
        let value: String
        /// nil: not a URL the phone can fetch.
        let url: String?
    }

    /// `resolve --format json`, with `resources` (R3.7) and `transfers`: each download, in order.
    static func json(_ outcome: ProvisioningOutcome, resources: [Resource], transfers: [Transfer]) throws -> String {
        let resolved = try ResolveOutput.json(outcome)
        guard var object = try JSONSerialization.jsonObject(with: Data(resolved.utf8)) as? [String: Any] else { return resolved }
        object["transfers"] = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(transfers))
        object["resources"] = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(resources))
        // Every file came from the server; where, `transfers` says.
        if let files = object["files"] as? [[String: Any]] {
            object["files"] = files.map { $0.filter { $0.key != "source" } }
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// `resolve`'s effective configuration, then a comment line per resource file and per download.
    static func cfg(_ outcome: ProvisioningOutcome, resources: [Resource], transfers: [Transfer]) -> String {
        ResolveOutput.cfg(outcome).replacingOccurrences(of: "# autoprov resolve: ", with: "# autoprov simulate: ")
            + resources.map { "# resource \($0.key): \($0.url ?? "\($0.value) (not a URL the phone can fetch)")\n" }.joined()
            + transfers.map { transfer in
            let retried = transfer.attempts > 1 ? ", \(transfer.attempts) attempts" : ""
            return "# \(transfer.method == "PUT" ? "PUT " : "")\(transfer.url): \(transfer.result), \(transfer.bytes) bytes, "
                + String(format: "%.3f s", transfer.seconds) + retried + "\n"
        }.joined()
    }
}
