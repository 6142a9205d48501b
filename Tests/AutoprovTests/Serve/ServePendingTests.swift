import Foundation
import Testing
import TestSupport

/// Phones the inventory does not know are added as pending by `serve` (issue 14).
@Suite("Unknown phones become pending devices", .blocking, .serialized, .timeLimit(.minutes(5)))
struct ServePendingTests {
    /// The inventory's devices as `MAC MODEL STATE LABEL…` lines, once `serve` has added what it saw.
    static func devices(_ server: ServerProcess) throws -> [String] {
        let csv = try CommandRunner.run(["device", "list", "--format", "csv", "--data", server.data.path]).stdout
        return csv.split(separator: "\r\n").dropFirst().map { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            return [fields[0], fields[1], fields[4], fields[2]].joined(separator: " ")
        }
    }

    /// HTTP gives the model in the User-Agent; TFTP asks for its common file (the model) before `<mac>.cfg`.
    @Test("a phone asking over HTTP or TFTP is added once as pending, with model, firmware and address")
    func addedAsPending() throws {
        let server = try ServerProcess(files: ["00156574b150.cfg": sipFile])
        let agent = "Yealink SIP-T46S 66.86.0.15 00:15:65:74:b1:50"
        for _ in 0..<3 {
            _ = try Client.curl(["-A", agent, "\(server.http)/00156574b150.cfg"])
        }
        _ = try server.read("y000000000068.cfg", over: .tftp)
        _ = try server.read("00156574b151.cfg", over: .tftp)
        var listed: [String] = []
        _ = eventually(within: 20) {
            listed = (try? Self.devices(server)) ?? []
            return listed.count >= 2
        }
        #expect(listed == ["00156574b150 T46S pending seen at 127.0.0.1; firmware 66.86.0.15",
                           "00156574b151 T41S pending seen at 127.0.0.1"], "\(listed)\n\(server.log)")
        #expect(try CommandRunner.run(["device", "approve", "00156574b151", "--data", server.data.path]).status == 0)
    }

    @Test("a flood of invented MACs from one address adds at most pending_per_address; auto_approve adds active")
    func boundedPerAddress() throws {
        let server = try ServerProcess(configuration: "[inventory]\npending_per_address = 3\nauto_approve = [\"00:15:66\"]\n")
        _ = try Client.curl(["-A", "Yealink SIP-T54W 96.86.0.1 00:15:66:00:00:01", "\(server.http)/001566000001.cfg"])
        for index in 0..<12 {
            let mac = String(format: "0015650000%02x", index)
            _ = try Client.curl(["-A", "Yealink SIP-T46S 66.86.0.15 \(mac)", "\(server.http)/\(mac).cfg"])
        }
        var listed: [String] = []
        _ = eventually(within: 20) {
            listed = (try? Self.devices(server)) ?? []
            return listed.count >= 3
        }
        usleep(1_500_000)  // what a second flush could still add
        listed = try Self.devices(server)
        #expect(listed.count == 3, "\(listed)")
        #expect(listed.contains("001566000001 T54W active seen at 127.0.0.1; firmware 96.86.0.1"), "\(listed)")
        #expect(listed.filter { $0.contains(" T46S pending ") }.count == 2, "\(listed)")
        #expect(server.log.contains("beyond [inventory] pending_per_address"), "\(server.log)")
    }
}
