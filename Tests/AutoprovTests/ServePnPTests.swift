import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// sipp (Debian's `sip-tester`) playing a phone, with the scenarios kept in `Fixtures/sipp`.
enum Sipp {
    struct Run {
        let status: Int32
        let errors: String
        /// sipp's `-trace_counts` columns of the last line (`2_NOTIFY_Retrans` …).
        let counts: [String: Int]
    }

    static func run(_ scenario: String, against target: String) throws -> Run {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-sipp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/sipp/\(scenario)")
        let errors = directory.appendingPathComponent("errors.txt")
        let result = try Client.run("sipp", [
            target, "-sf", file.path, "-m", "1", "-i", "127.0.0.1", "-p", String(freeUDPPort()),
            "-timeout", "20s", "-recv_timeout", "5000", "-nostdin", "-trace_err", "-error_file", errors.path, "-trace_counts",
        ], in: directory)
        var counts: [String: Int] = [:]
        let csv = try FileManager.default.contentsOfDirectory(atPath: directory.path).first { $0.hasSuffix("_counts.csv") }
        if let csv {
            let lines = try String(contentsOf: directory.appendingPathComponent(csv), encoding: .utf8)
                .split(separator: "\n")
            if let header = lines.first, let last = lines.last, lines.count > 1 {
                for (name, value) in zip(header.split(separator: ";"), last.split(separator: ";")) {
                    counts[String(name)] = Int(value)
                }
            }
        }
        let errorText = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
        return Run(status: result.status, errors: errorText + result.stderr, counts: counts)
    }

    /// A UDP port nobody uses right now.
    static func freeUDPPort() -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bound in
                _ = bind(socket, bound, length)
                return getsockname(socket, bound, &length)
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

@Suite("SIP Plug-and-Play responder, with sipp as the phone", .serialized)
struct ServePnPTests {
    static let configuration = """
        [pnp]
        url = "http://$SERVER:8080/$PN/$MAC/"
        """

    @Test("SUBSCRIBE → 200 OK (Expires 0, a To tag) → NOTIFY with the URL filled in → 200; the phone is registered")
    func plugAndPlay() throws {
        let server = try ServerProcess(configuration: Self.configuration)
        let run = try Sipp.run("pnp-phone.xml", against: server.pnpHostPort)
        #expect(run.status == 0, "\(run.errors)\n\(server.log)")
        #expect(server.stop() == 0)
        let devices = try CommandRunner.run(["devices", "--data", server.data.path]).stdout
        #expect(devices.split(separator: "\n").contains {
            $0.hasPrefix("001565f4f9e1") && $0.contains("W52P") && $0.contains("25.81.0.10") && $0.contains("notified")
        }, "\(devices)")
        let log = try CommandRunner.run(["log", "--data", server.data.path, "--mac", "001565f4f9e1"]).stdout
        #expect(log.contains("sip-pnp") && log.contains("answered") && log.contains("http://127.0.0.1:8080/W52P/001565f4f9e1/"))
    }

    @Test("a phone that drops the first NOTIFY gets it again at T1 and 3·T1 (Timer E)")
    func retransmittedNotify() throws {
        let server = try ServerProcess(configuration: Self.configuration)
        let run = try Sipp.run("pnp-phone-lost-notify.xml", against: server.pnpHostPort)
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.counts["2_NOTIFY_Recv"] == 1)
        #expect(run.counts["2_NOTIFY_Retrans"] == 2, "\(run.counts)")
    }

    @Test("a retransmitted SUBSCRIBE gets the same 200 OK again and no second NOTIFY")
    func retransmittedSubscribe() throws {
        let server = try ServerProcess(configuration: Self.configuration)
        let run = try Sipp.run("pnp-phone-subscribe-twice.xml", against: server.pnpHostPort)
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.counts["2_NOTIFY_Recv"] == 1)
        #expect(run.counts["2_NOTIFY_Unexp"] == 0)
    }

    @Test("a phone outside allow_ouis is not answered")
    func notAdmitted() throws {
        let server = try ServerProcess(configuration: Self.configuration + "\nallow_ouis = [\"80:5e:c0\"]\n")
        let run = try Sipp.run("pnp-phone.xml", against: server.pnpHostPort)
        #expect(run.status != 0)
        #expect(run.counts["1_200_Recv"] == 0, "\(run.counts)")
    }

    @Test("hostile datagrams are dropped and the responder keeps answering")
    func hostile() throws {
        let server = try ServerProcess(configuration: Self.configuration)
        let peer = RawTFTPClient(serverPort: server.pnpPort)
        let hostile: [[UInt8]] = [
            [], Array("GARBAGE".utf8), [UInt8](repeating: 0xff, count: 1400),
            Array("SUBSCRIBE sip:MAC001565f4f9e1@x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1\r\nContent-Length: 99\r\n\r\n".utf8),
            Array("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKnothing\r\nFrom: <sip:a@b>\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 NOTIFY\r\n\r\n".utf8),
        ]
        for datagram in hostile { peer.send(datagram) }
        let run = try Sipp.run("pnp-phone.xml", against: server.pnpHostPort)
        #expect(run.status == 0, "\(run.errors)")
        #expect(server.stop() == 0)
    }
}
