import ArgumentParser
import Foundation
import PostgresStore
import ProvisioningCore
import Settings
import Storage

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the devices the server has seen: MAC, model, firmware, address, first and last seen, DHCP lease.")

    @Option(help: "The data folder.")
    var data = "autoprov-data"

    @Option(help: "autoprov.toml, for [store] url (the log several nodes share).")
    var config: String?

    func run() throws {
        try reportingFailures {
            let log = try openLog(data, config: config)
            let devices = try log.devices()
            // Leases from the built-in DHCP server, by MAC: the address and the vendor class the phone sent.
            let leases = Dictionary(try log.leases().map { ($0.mac, $0) }, uniquingKeysWith: { first, _ in first })
            var rows = [["MAC", "MODEL", "FIRMWARE", "ADDRESS", "FIRST SEEN", "LAST SEEN", "LAST FILE", "RESULT",
                         "DHCP LEASE", "VENDOR CLASS"]]
            for device in devices {
                let lease = leases[device.mac]
                rows.append([device.mac, device.model ?? "-", device.firmware ?? "-", device.address,
                             timestamp(device.firstSeen), timestamp(device.lastSeen), device.lastPath, device.lastResult,
                             lease.map { "\($0.address) until \(timestamp($0.expires))" } ?? "-",
                             lease?.vendorClass ?? "-"])
            }
            emit(table(rows))
        }
    }
}

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print recent requests, newest first.")

    @Option(help: "The data folder.")
    var data = "autoprov-data"

    @Option(help: "autoprov.toml, for [store] url (the log several nodes share).")
    var config: String?

    @Option(help: "Only this device's requests.")
    var mac: String?

    @Option(help: "How many requests.")
    var limit = 50

    func run() throws {
        try reportingFailures {
            let log = try openLog(data, config: config)
            let filter: String?
            if let mac {
                do { filter = try MACAddress(mac).canonical } catch { throw UsageFailure("\(error)") }
            } else {
                filter = nil
            }
            var rows = [["TIME", "PROTOCOL", "CLIENT", "PATH", "RESULT", "BYTES", "MS", "MAC", "CERTIFICATE"]]
            for request in try log.requests(mac: filter, limit: limit) {
                rows.append([timestamp(request.time), request.protocolName, request.client, request.path, request.result,
                             String(request.bytes), String(Int(request.duration * 1000)), request.mac ?? "-",
                             request.certificate ?? "-"])
            }
            emit(table(rows))
        }
    }
}

/// The request log: in the PostgreSQL the configuration's `[store] url` names (every node's requests), else the data
/// folder's.
func openLog(_ data: String, config: String?) throws -> RequestLog {
    let settings: ServerConfiguration
    do {
        settings = try config.map { try ServerConfiguration.load(file: $0) } ?? ServerConfiguration()
    } catch {
        throw UsageFailure("\(error)")
    }
    if let url = settings.storeURL {
        do {
            return RequestLog(store: try Stores.requestLog(url: url, passwordFile: settings.storePasswordFile),
                              logger: .init(label: "autoprov"))
        } catch {
            throw UsageFailure("[store] url: \(error)")
        }
    }
    let path = (data as NSString).appendingPathComponent("autoprov.sqlite")
    guard FileManager.default.fileExists(atPath: path) else {
        throw UsageFailure("\(path): no request log yet (has 'autoprov serve' run with --data \(data)?)")
    }
    do {
        return try RequestLog(path: path, logger: .init(label: "autoprov"))
    } catch {
        throw UsageFailure("\(path): \(error)")
    }
}

/// UTC times for tables, with one formatter for every row.
func timestamp(_ seconds: Double) -> String {
    utcFormatter.string(from: Date(timeIntervalSince1970: seconds))
}

private let utcFormatter: DateFormatter = {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
    return formatter
}()

/// Columns padded to their widest cell.
func table(_ rows: [[String]]) -> String {
    guard let first = rows.first else { return "" }
    let widths = (0..<first.count).map { column in rows.map { $0[column].count }.max() ?? 0 }
    return rows.map { row in
        var line = row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
        while line.last == " " { line.removeLast() }  // empty last cells leave no trailing blanks
        return line
    }.joined(separator: "\n") + "\n"
}
