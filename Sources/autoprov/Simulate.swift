import ArgumentParser
import Foundation
import NIOSSL
import ProvisioningCore
import Resolution
import Settings
import Simulation
import Synchronization

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

    @Option(help: "The phone's MAC address (one phone).")
    var mac: String?

    @Option(help: "Run this many phones instead of one, with MACs from --mac-start on.")
    var fleet: Int?

    @Option(name: .customLong("mac-start"), help: "The fleet's first MAC; the others follow it.")
    var macStart = "001565000000"

    @Option(help: "The fleet's models, comma-separated, taken in turn (default: --model, else T46S).")
    var models: String?

    @Option(help: "Fleet phones provisioning at once.")
    var concurrency = 100

    @Option(help: "Seconds over which the fleet's first phones start.")
    var ramp: Double = 0

    @Option(help: "Each fleet phone waits a random 0 to this many seconds before it starts.")
    var jitter: Double = 0

    @Option(help: "Start no fleet phone after this many seconds (those running finish).")
    var duration: Double?

    @Option(help: "Write the fleet's summary as JSON to this file.")
    var json: String?

    @Option(help: "The fleet's phones (the first --fleet of them) from an inventory CSV file's mac and model columns.")
    var devices: String?

    @Flag(name: .customLong("against-null"),
          help: "Run the same fleet first against a responder in this process that answers at once: the simulator's ceiling.")
    var againstNull = false

    @Option(help: "The phone's model (T46S, T54W, ...).")
    var model: String?

    @Option(name: .customLong("user-agent"), help: "The phone's HTTP User-Agent; gives the model, and is sent as it is.")
    var userAgent: String?

    @Option(help: "The firmware version the built User-Agent names.")
    var firmware = "66.86.0.15"

    @Option(help: "A JSON file holding the phone's memory between provisionings; read if present, then written.")
    var state: String?

    @Option(help: "The phone's stored MAC-local file (in a fleet: every phone's).")
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
        if fleet != nil {
            try runFleet()
            return
        }
        var reached = false
        try reportingFailures {
            guard let text = self.mac else { throw UsageFailure("give --mac (one phone) or --fleet N") }
            let mac: MACAddress
            do { mac = try MACAddress(text) } catch { throw UsageFailure("\(error)") }
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

    /// `--fleet N`: N phones, `--concurrency` at a time; the summary printed (and written with `--json`); exit 1 when a
    /// phone failed.
    private func runFleet() throws {
        var allCompleted = false
        try reportingFailures {
            guard let count = fleet, count > 0, count <= 10_000_000 else { throw UsageFailure("--fleet: 1 to 10,000,000 phones") }
            guard mac == nil else { throw UsageFailure("give --mac (one phone) or --fleet N, not both") }
            guard concurrency > 0, ramp >= 0, jitter >= 0, (duration ?? 1) > 0 else {
                throw UsageFailure("--concurrency: at least 1; --ramp, --jitter: not negative; --duration: positive")
            }
            let phones = try Array((devices.map(Simulate.phones(fromCSV:)) ?? generatedPhones(count)).prefix(count))
            let client = try PhoneClient(identity: PhoneIdentity(userAgent: "", username: username, password: password,
                                                                 tls: try tls()))
            var ceiling: FleetReport.Summary?
            if againstNull {
                let (null, nullClient) = try nullResponder(client)
                ceiling = Fleet(client: nullClient, serverURL: ServerURLTemplate(null.url), firmware: firmware)
                    .run(phones, concurrency: concurrency, ramp: ramp, jitter: jitter, duration: duration).summary
                let nullURL = null.url
                null.close()
                emit("against a null responder at \(nullURL) (the simulator's ceiling):\n" + Simulate.describe(ceiling!))
                emit("against \(url):\n")
            }
            let progress = FleetProgress(total: phones.count)
            let localFile = try local.map { path -> [UInt8] in
                guard let data = FileManager.default.contents(atPath: path) else { throw UsageFailure("\(path): cannot read it") }
                return Array(data)
            }
            let report = Fleet(client: client, serverURL: ServerURLTemplate(url), firmware: firmware, localFile: localFile)
                .run(phones, concurrency: concurrency, ramp: ramp, jitter: jitter, duration: duration) { progress.count($0) }
            progress.finish()
            let summary = report.summary
            emit(Simulate.describe(summary))
            if let ceiling {
                emit(String(format: "%.2f× the simulator's ceiling\n", summary.phonesPerSecond / max(ceiling.phonesPerSecond, 1)))
            }
            if let json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                do {
                    // With --against-null, the ceiling's summary rides along as `ceiling`.
                    var object = try JSONSerialization.jsonObject(with: try encoder.encode(summary)) as? [String: Any] ?? [:]
                    if let ceiling { object["ceiling"] = try JSONSerialization.jsonObject(with: try encoder.encode(ceiling)) }
                    try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
                        .write(to: URL(fileURLWithPath: json))
                } catch {
                    throw UsageFailure("\(json): cannot write it (\(error.localizedDescription))")
                }
            }
            allCompleted = summary.failed == 0
        }
        if !allCompleted { throw ExitCode(1) }
    }

    /// The responder a fleet's ceiling is measured against, for the URL's scheme, and the client its phones use: over
    /// HTTPS the fleet's own TLS settings, trusting the responder's certificate (made for this run) and verifying it
    /// as they would the server's, so that each connection costs the handshake it costs against the server.
    private func nullResponder(_ client: PhoneClient) throws -> (any NullService, PhoneClient) {
        let scheme = url.lowercased().prefix { $0 != ":" }
        guard scheme == "https" else {
            return (try NullResponder.responder(for: scheme == "tftp" ? "tftp" : "http"), client)
        }
        let pair = try ServerCertificate.selfSignedPEM()
        let certificate = try NIOSSLCertificate(bytes: Array(pair.certificate.utf8), format: .pem)
        let key = try NIOSSLPrivateKey(bytes: Array(pair.key.utf8), format: .pem)
        var server = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(certificate)],
                                                              privateKey: .privateKey(key))
        server.minimumTLSVersion = .tlsv12
        var trusting = try tls()
        trusting.trustRoots = .certificates([certificate])
        trusting.certificateVerification = .fullVerification
        let nullClient = try PhoneClient(identity: PhoneIdentity(userAgent: "", username: username, password: password,
                                                                 tls: trusting))
        return (try NullResponder(tls: server), nullClient)
    }

    /// `count` phones with MACs from --mac-start on, the models taken in turn.
    private func generatedPhones(_ count: Int) throws -> [Fleet.Phone] {
        let names = models.map { $0.split(separator: ",").map(String.init) } ?? [model ?? "T46S"]
        let catalog: [PhoneModel] = try names.map { name in
            do { return try ModelCatalog.requireModel(named: name) } catch { throw UsageFailure("\(error)") }
        }
        let first: UInt64
        do { first = UInt64(try MACAddress(macStart).canonical, radix: 16) ?? 0 } catch { throw UsageFailure("--mac-start: \(error)") }
        guard first + UInt64(count) <= 0xFFFF_FFFF_FFFF else { throw UsageFailure("--mac-start: the fleet runs past ff:ff:ff:ff:ff:ff") }
        return try (0..<count).map { index in
            Fleet.Phone(mac: try MACAddress(String(format: "%012llx", first + UInt64(index))), model: catalog[index % catalog.count])
        }
    }

    /// The phones of an inventory CSV file (`device import`'s format: a header row naming `mac` and `model`).
    static func phones(fromCSV path: String) throws -> [Fleet.Phone] {
        guard let data = FileManager.default.contents(atPath: path) else { throw UsageFailure("\(path): cannot read it") }
        let table: CSVTable
        do { table = try CSVTable(parsing: String(decoding: data, as: UTF8.self)) } catch { throw UsageFailure("\(path):\(error)") }
        guard let header = table.rows.first?.fields.map({ $0.lowercased() }),
              let macColumn = header.firstIndex(of: "mac"), let modelColumn = header.firstIndex(of: "model") else {
            throw UsageFailure("\(path):1: the header must name the mac and model columns")
        }
        return try table.rows.dropFirst().map { row in
            guard row.fields.count > max(macColumn, modelColumn) else { throw UsageFailure("\(path):\(row.line): too few columns") }
            do {
                return Fleet.Phone(mac: try MACAddress(row.fields[macColumn]),
                                   model: try ModelCatalog.requireModel(named: row.fields[modelColumn]))
            } catch {
                throw UsageFailure("\(path):\(row.line): \(error)")
            }
        }
    }

    static func describe(_ summary: FleetReport.Summary) -> String {
        func seconds(_ values: [String: Double], _ keys: [String]) -> String {
            keys.map { "\($0) " + String(format: "%.3f s", values[$0] ?? 0) }.joined(separator: ", ")
        }
        let reasons = summary.failures.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        return """
            phones: \(summary.phones), \(summary.completed) completed, \(summary.failed) failed\(reasons.isEmpty ? "" : " (\(reasons))")
            files: \(summary.files), \(summary.bytes) bytes in \(String(format: "%.2f", summary.seconds)) s: \
            \(String(format: "%.0f", summary.phonesPerSecond)) phones/s, \(String(format: "%.0f", summary.filesPerSecond)) files/s
            file latency: \(seconds(summary.fileLatency, ["p50", "p90", "p99", "max"]))
            phone completion: \(seconds(summary.phoneCompletion, ["p50", "p99", "max"]))

            """
    }

    /// The TLS client configuration the options describe.
    private func tls() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        // The key exchanges a phone's TLS stack offers (OpenSSL 1.x in Yealink firmware): not the post-quantum hybrid
        // (X25519MLKEM768) this library would offer first, which costs both sides several times as much.
        configuration.curves = [.x25519, .secp256r1, .secp384r1]
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

/// The live line a fleet shows on a terminal: phones done and failed, the rate; redrawn a few times a second on
/// standard error, and only when it is a terminal.
final class FleetProgress: Sendable {
    let total: Int
    let started = ContinuousClock.now
    private let counts = Mutex<(done: Int, failed: Int, shown: ContinuousClock.Instant)>((0, 0, .now))
    let terminal = isatty(STDERR_FILENO) == 1

    init(total: Int) { self.total = total }

    func count(_ result: FleetReport.PhoneResult) {
        guard terminal else { return }
        let line = counts.withLock { counts -> String? in
            counts.done += 1
            if result.failure != nil { counts.failed += 1 }
            guard ContinuousClock.now - counts.shown > .milliseconds(250) || counts.done == total else { return nil }
            counts.shown = .now
            let seconds = max((ContinuousClock.now - started).seconds, 0.001)
            return "\r\(counts.done)/\(total) done, \(counts.failed) failed, \(Int(Double(counts.done) / seconds)) phones/s "
        }
        if let line { FileHandle.standardError.write(Data(line.utf8)) }
    }

    func finish() { if terminal { FileHandle.standardError.write(Data("\n".utf8)) } }
}
