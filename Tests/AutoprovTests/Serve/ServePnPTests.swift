import Foundation
import Testing
#if canImport(Glibc)
import Glibc
import TestSupport
#endif

/// sipp (Debian's `sip-tester`) playing a phone, with the scenarios kept in `Fixtures/sipp`.
enum Sipp {
    struct Run {
        let status: Int32
        let errors: String
        /// sipp's `-trace_counts` columns of the last line (`2_NOTIFY_Retrans` …).
        let counts: [String: Int]
        /// What the scenario's `<log>` actions wrote.
        let logs: String
    }

    static func run(_ scenario: String, against target: String) throws -> Run {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-sipp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/sipp/\(scenario)")
        let errors = directory.appendingPathComponent("errors.txt")
        // sipp needs a port number; one found free may be taken before sipp binds it, and then sipp says so and
        // is run again on another.
        var result: CommandRunner.Result
        var attempts = 0
        repeat {
            attempts += 1
            result = try Client.run("sipp", [
                target, "-sf", file.path, "-m", "1", "-i", "127.0.0.1", "-p", String(freeUDPPort()),
                "-timeout", "20s", "-recv_timeout", "5000", "-nostdin", "-trace_err", "-error_file", errors.path,
                "-trace_counts", "-trace_logs",
            ], in: directory)
        } while result.stderr.contains(Self.portTaken) && attempts < 5
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
        let logFile = try FileManager.default.contentsOfDirectory(atPath: directory.path).first { $0.hasSuffix("_logs.log") }
        let logs = logFile.flatMap { try? String(contentsOf: directory.appendingPathComponent($0), encoding: .utf8) } ?? ""
        return Run(status: result.status, errors: errorText + result.stderr, counts: counts, logs: logs)
    }

    /// What sipp prints when its port was taken.
    static let portTaken = "Unable to bind main socket"

    /// sipp as a phone (UAS) on a free port, answering `calls` calls; `finish()` waits for it and returns its run.
    final class Phone {
        private(set) var process = Process()
        private(set) var port = 0
        let directory: URL
        let errors: URL

        init(_ scenario: String, calls: Int = 1) throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-sipp-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            errors = directory.appendingPathComponent("errors.txt")
            let file = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/sipp/\(scenario)")
            // Started until it listens: a port found free may be taken before sipp binds it, and then sipp exits.
            for _ in 0..<5 {
                process = Process()
                port = Sipp.freeUDPPort()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = ["sipp", "-sf", file.path, "-i", "127.0.0.1", "-p", String(port), "-m", String(calls),
                                     "-recv_timeout", "8000", "-timeout", "30s", "-nostdin", "-trace_err",
                                     "-error_file", errors.path]
                process.currentDirectoryURL = directory
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                process.standardInput = FileHandle.nullDevice
                try Children.start(process)
                let pid = process.processIdentifier
                if eventually(within: 10, { !process.isRunning || Self.listens(pid: pid, port: port) }), process.isRunning {
                    return
                }
            }
            throw ChildTimedOut(command: process.commandLine, seconds: 10)
        }

        /// True when process `pid` has UDP `port` bound (`ss` names the owner of each socket).
        static func listens(pid: Int32, port: Int) -> Bool {
            let sockets = (try? Client.run("ss", ["-Hulpn", "sport = :\(port)"], timeout: 10).stdout) ?? ""
            return sockets.contains("pid=\(pid),")
        }

        var uri: String { "sip:1001@127.0.0.1:\(port)" }

        func finish() -> (status: Int32, errors: String) {
            process.finish(within: 60)
            defer { try? FileManager.default.removeItem(at: directory) }
            return (process.terminationStatus, (try? String(contentsOf: errors, encoding: .utf8)) ?? "")
        }

        deinit {
            if process.isRunning { process.terminate() }
        }
    }

    /// A UDP port nobody uses right now (it may be taken before it is used: callers retry).
    static func freeUDPPort() -> Int {
        RawUDPPeer(serverPort: 0).localPort
    }
}

@Suite("SIP Plug-and-Play responder, with sipp as the phone", .blocking, .serialized, .timeLimit(.minutes(5)))
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

    @Test("with no URL configured the phone gets the HTTP listener's, and provisions from it")
    func provisionsFromDefaultURL() throws {
        let server = try ServerProcess(files: ["001565f4f9e1.cfg": "#!version:1.0.0.1\naccount.1.label = PnP\n"])
        let run = try Sipp.run("pnp-phone-default-url.xml", against: server.pnpHostPort)
        #expect(run.status == 0, "\(run.errors)")
        let url = try #require(run.logs.split(separator: "\n").compactMap { line in
            line.range(of: "URL ").map { String(line[$0.upperBound...]).trimmingCharacters(in: .whitespaces) }
        }.first, "\(run.logs)")
        #expect(url == server.http + "/")
        let file = try Client.curl([url + "001565f4f9e1.cfg"])
        #expect(file.status == 200)
        #expect(file.body.contains("account.1.label = PnP"))
    }

    @Test("known_devices_only: a phone with no <mac>.cfg here and never seen is not answered; with one it is")
    func knownDevicesOnly() throws {
        let strict = Self.configuration + "\nknown_devices_only = true\n"
        let unknown = try ServerProcess(configuration: strict)
        #expect(try Sipp.run("pnp-phone.xml", against: unknown.pnpHostPort).counts["1_200_Recv"] == 0)
        let known = try ServerProcess(files: ["001565f4f9e1.cfg": "#!version:1.0.0.1\n"], configuration: strict)
        let run = try Sipp.run("pnp-phone.xml", against: known.pnpHostPort)
        #expect(run.status == 0, "\(run.errors)")
    }

    /// One SUBSCRIBE of a flood from the same phone, told apart by `index`; its NOTIFY to `contact` (the discard
    /// port of an address).
    static func floodSubscribe(_ index: Int, contact: String = "127.0.0.1") -> [UInt8] {
        Array("""
            SUBSCRIBE sip:MAC001565f4f9e1@224.0.1.75 SIP/2.0\r
            Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKflood\(index)\r
            From: <sip:MAC001565f4f9e1@224.0.1.75>;tag=f\(index)\r
            To: <sip:MAC001565f4f9e1@224.0.1.75>\r
            Call-ID: flood\(index)\r
            CSeq: 1 SUBSCRIBE\r
            Contact: <sip:MAC001565f4f9e1@\(contact):9>\r
            Event: ua-profile;profile-type="device";vendor="yealink";model="T46G";version="28.83.0.50"\r
            Content-Length: 0\r
            \r

            """.utf8)
    }

    @Test("a flood from one address is cut to the rate limit; the responder answers again once it has passed")
    func rateLimit() throws {
        let server = try ServerProcess(configuration: Self.configuration)
        let peer = RawUDPPeer(serverPort: server.pnpPort)
        // Each names a NOTIFY address of its own, so that only the limit on the source is in play here.
        for index in 0..<150 { peer.send(Self.floodSubscribe(index, contact: "127.0.2.\(index + 1)")) }
        var answers = 0
        while let (reply, _) = peer.receive(), reply.starts(with: Array("SIP/2.0 200".utf8)) { answers += 1 }
        // Every SUBSCRIBE is either answered or counted as cut; the burst (40) is answered, the rest is cut.
        let cut = try server.event("pnp-rate-limited")
        #expect(answers >= 40 && cut >= 1 && answers + cut == 150, "\(answers) answered, \(cut) cut of 150")
        // Once the limit has passed, the same address is answered again: probe until it is, then a full exchange.
        var probe = 150
        #expect(eventually(within: 20) {
            probe += 1
            peer.send(Self.floodSubscribe(probe, contact: "127.0.3.\(probe % 250 + 1)"))
            return peer.receive().map { $0.0.starts(with: Array("SIP/2.0 200".utf8)) } ?? false
        })
        let run = try Sipp.run("pnp-phone.xml", against: server.pnpHostPort)
        #expect(run.status == 0, "\(run.errors)")
    }

    @Test("no reflector: SUBSCRIBEs from 40 forged sources, each within its own limit, naming one victim as Contact, get it at most a handful of NOTIFYs; phones elsewhere are still served")
    func notifiesToOneAddressBounded() throws {
        let server = try ServerProcess(configuration: Self.configuration)
        let victim = RawUDPPeer(serverPort: server.pnpPort, source: "127.0.0.200")
        let victimPort = victim.localPort
        var sent = 0
        for source in 1...40 {
            let forger = RawUDPPeer(serverPort: server.pnpPort, source: "127.0.1.\(source)")
            for _ in 0..<5 {
                sent += 1
                let subscribe = String(decoding: Self.floodSubscribe(sent), as: UTF8.self)
                    .replacingOccurrences(of: "Contact: <sip:MAC001565f4f9e1@127.0.0.1:9>",
                                          with: "Contact: <sip:MAC001565f4f9e1@127.0.0.200:\(victimPort)>")
                forger.send(Array(subscribe.utf8))
                usleep(1_000)  // paced, so that none is lost in the server's socket buffer: each is counted
            }
        }
        // What reaches the victim in the next seconds, retransmissions (Timer E: 0.5, 1, 2 s) included.
        var notifies = 0, calls = Set<String>()
        let deadline = ContinuousClock.now + .seconds(4)
        while ContinuousClock.now < deadline, let (datagram, _) = victim.receive(timeoutMilliseconds: 500) {
            let text = String(decoding: datagram, as: UTF8.self)
            guard text.hasPrefix("NOTIFY ") else { continue }
            notifies += 1
            if let line = text.split(separator: "\r\n").first(where: { $0.hasPrefix("Call-ID:") }) { calls.insert(String(line)) }
        }
        // At most 8 unanswered NOTIFYs at a time to one address, each sent at most 4 times in 4 s: without the bound,
        // 200 distinct ones (and their retransmissions).
        #expect(calls.count >= 1 && calls.count <= 8, "\(calls.count) distinct NOTIFYs reached the victim")
        #expect(notifies <= 32, "\(notifies) NOTIFYs reached the victim")
        let limited = try server.event("pnp-notify-limited")
        #expect(limited >= sent - 10 - 8 - 2, "\(limited) of \(sent) limited")
        #expect(try server.event("pnp-rate-limited") == 0, "each forged source stayed within its own limit")
        // A phone at another address is told its URL as ever.
        let run = try Sipp.run("pnp-phone.xml", against: server.pnpHostPort)
        #expect(run.status == 0, "\(run.errors)")
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
        let peer = RawUDPPeer(serverPort: server.pnpPort)
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

    @Test("a SUBSCRIBE larger than 2 KB is read whole and answered; the largest UDP datagram is dropped cleanly")
    func largeSubscribe() throws {
        let server = try ServerProcess(configuration: Self.configuration)
        let peer = RawUDPPeer(serverPort: server.pnpPort)
        // 20,000 bytes of a header the responder does not know: allowed (RFC 3261 §7.3.1), and ignored.
        let padded = String(decoding: Self.floodSubscribe(1), as: UTF8.self)
            .replacingOccurrences(of: "Content-Length: 0\r\n", with: "X-Pad: \(String(repeating: "p", count: 20_000))\r\nContent-Length: 0\r\n")
        peer.send(Array(padded.utf8))
        let reply = try #require(peer.receive(), "no answer to a SUBSCRIBE of \(padded.utf8.count) bytes")
        #expect(reply.0.starts(with: Array("SIP/2.0 200".utf8)))
        #expect(String(decoding: reply.0, as: UTF8.self).contains("Call-ID: flood1"))
        // 65,507 bytes, the most IPv4 carries: nothing to answer, and the responder goes on.
        peer.send([UInt8](repeating: UInt8(ascii: "S"), count: 65_507))
        #expect(peer.receive(timeoutMilliseconds: 500) == nil)
        let run = try Sipp.run("pnp-phone.xml", against: server.pnpHostPort)
        #expect(run.status == 0, "\(run.errors)")
    }

    @Test("a Contact that is not one phone (broadcast, multicast, unspecified) cannot stop PnP or the server",
          arguments: ["255.255.255.255", "224.0.0.1", "0.0.0.0", "127.255.255.255"])
    func contactNotOnePhone(_ host: String) throws {
        let server = try ServerProcess(configuration: Self.configuration)
        let peer = RawUDPPeer(serverPort: server.pnpPort)
        let subscribe = String(decoding: Self.floodSubscribe(1), as: UTF8.self)
            .replacingOccurrences(of: "Contact: <sip:MAC001565f4f9e1@127.0.0.1:9>",
                                  with: "Contact: <sip:MAC001565f4f9e1@\(host):5060>")
        peer.send(Array(subscribe.utf8))
        let reply = try #require(peer.receive(), "no answer to a SUBSCRIBE with Contact \(host)")
        #expect(reply.0.starts(with: Array("SIP/2.0 200".utf8)))
        // PnP goes on for the next phone, every other listener too, and SIGTERM still ends the server cleanly.
        let run = try Sipp.run("pnp-phone.xml", against: server.pnpHostPort)
        #expect(run.status == 0, "\(run.errors)")
        #expect(try Client.curl(["\(server.http)/metrics"]).status == 200)
        #expect(server.stop() == 0, "\(server.log)")
    }
}

@Suite("autoprov notify: check-sync, with sipp as the phone", .blocking, .serialized, .timeLimit(.minutes(5)))
struct NotifyCommandTests {
    @Test("NOTIFY Event: check-sync;reboot=true is answered 200: printed, exit 0")
    func checkSync() throws {
        let phone = try Sipp.Phone("checksync-phone.xml")
        let result = try CommandRunner.run(["notify", "--to", phone.uri, "--reboot"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("200 OK"))
        let sipp = phone.finish()
        #expect(sipp.status == 0, "\(sipp.errors)")
    }

    @Test("a 401 challenge is answered with Digest (MD5, qop=auth), which the phone verifies")
    func digest() throws {
        let phone = try Sipp.Phone("checksync-phone-auth.xml")
        let result = try CommandRunner.run(["notify", "--to", phone.uri, "--username", "1001", "--password", "secret"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(phone.finish().status == 0)
    }

    @Test("a wrong password: the phone refuses (403), exit 1")
    func wrongPassword() throws {
        let phone = try Sipp.Phone("checksync-phone-auth.xml")
        let result = try CommandRunner.run(["notify", "--to", phone.uri, "--username", "1001", "--password", "wrong"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("403"), "\(result.stdout)")
        _ = phone.finish()
    }

    @Test("nobody answers: exit 1 after the timeout; bad arguments are refused")
    func silent() throws {
        // A socket that is there and never answers (a free port could be taken by someone else meanwhile).
        let silentPeer = RawUDPPeer(serverPort: 0)
        // --timeout 2 is kept: the command says so, and the default (32 s) would overrun this run's deadline.
        let result = try CommandRunner.run(["notify", "--to", "sip:1001@127.0.0.1:\(silentPeer.localPort)",
                                            "--timeout", "2"], timeout: 20)
        #expect(result.status == 1)
        #expect(result.stdout.contains("no answer within 2.0 s"), "\(result.stdout)")
        #expect(try CommandRunner.run(["notify"]).status != 0)
        #expect(try CommandRunner.run(["notify", "--to", "http://x/"]).status != 0)
        #expect(try CommandRunner.run(["notify", "--to", "sip:a@b", "--username", "u"]).status != 0)
        #expect(try CommandRunner.run(["notify", "--all", "--rate", "fast"]).status != 0)
    }

    @Test("--mac finds the phone's address in the registry; --all notifies every device and sums up")
    func registry() throws {
        let server = try ServerProcess(configuration: ServePnPTests.configuration)
        let run = try Sipp.run("pnp-phone.xml", against: server.pnpHostPort)
        #expect(run.status == 0, "\(run.errors)")
        // The inventory has it too, as a pending W52P (its SUBSCRIBE named MAC, model and firmware).
        #expect(eventually(within: 20) {
            let pending = (try? CommandRunner.run(["device", "list", "--state", "pending", "--format", "csv",
                                                   "--data", server.data.path]).stdout) ?? ""
            return pending.contains("001565f4f9e1,W52P,seen at 127.0.0.1; firmware 25.81.0.10,,pending")
        })
        #expect(server.stop() == 0)
        // The registry knows 001565f4f9e1 at 127.0.0.1; port 5060 may be anyone's here, so only the lookup is
        // checked: an unknown MAC is an error, a known one is tried (answered or not).
        let unknown = try CommandRunner.run(["notify", "--mac", "00:15:65:00:00:01", "--data", server.data.path])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("not in the device registry"))
        let known = try CommandRunner.run(["notify", "--mac", "00:15:65:f4:f9:e1", "--data", server.data.path,
                                           "--timeout", "1"])
        #expect(known.stdout.contains("sip:127.0.0.1:5060"), "\(known.stdout)\(known.stderr)")
        let all = try CommandRunner.run(["notify", "--all", "--rate", "5/s", "--data", server.data.path, "--timeout", "1"])
        #expect(all.stdout.contains("1 devices:"), "\(all.stdout)")
    }
}

@Suite("PnP over multicast, in a network namespace made by the test", .blocking, .serialized,
       .enabled(if: getuid() == 0, "needs root for ip netns (CI runs as root)"), .timeLimit(.minutes(5)))
struct PnPMulticastTests {
    /// Runs `ip` with arguments; true on success.
    @discardableResult
    static func ip(_ arguments: [String]) throws -> Bool {
        try Client.run("ip", arguments).status == 0
    }

    @Test("a SUBSCRIBE sent to 224.0.1.75:5060 reaches the responder, which answers and sends the URL")
    func multicast() throws {
        let namespace = "autoprov-pnp-\(getpid())"
        try Self.ip(["netns", "add", namespace])
        defer { _ = try? Self.ip(["netns", "del", namespace]) }
        #expect(try Self.ip(["-n", namespace, "link", "set", "lo", "up", "multicast", "on"]))
        #expect(try Self.ip(["-n", namespace, "route", "add", "224.0.0.0/4", "dev", "lo"]))

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-mcast-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("root"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // One interface that exists in the namespace, one that does not: a warning, and PnP goes on.
        try (ServePnPTests.configuration + "\ninterfaces = [\"lo\", \"nosuch0\"]\n")
            .write(to: directory.appendingPathComponent("c.toml"), atomically: true, encoding: .utf8)
        let output = directory.appendingPathComponent("server.out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["ip", "netns", "exec", namespace, CommandRunner.binary.path, "serve",
                            "--config", directory.appendingPathComponent("c.toml").path,
                            "--root", directory.appendingPathComponent("root").path,
                            "--data", directory.appendingPathComponent("data").path,
                            "--tftp", "off", "--https", "off", "--ftp", "off", "--http", "127.0.0.1:0",
                            "--pnp", "0.0.0.0:5060"]
        let handle = try FileHandle(forWritingTo: output)
        server.standardOutput = handle
        server.standardError = handle
        try Children.start(server)
        defer {
            kill(server.processIdentifier, SIGTERM)
            server.finish(within: 30)
        }
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, !((try? String(contentsOf: output, encoding: .utf8)) ?? "").contains("PnP listening") {
            // The warnings come before the listening line.
            usleep(50_000)
        }
        let log = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        #expect(log.contains("PnP listening on 0.0.0.0:5060"), "\(log)")
        #expect(!log.contains("cannot join"), "\(log)")
        #expect(log.contains("no such IPv4 interface") && log.contains("nosuch0"), "\(log)")

        let file = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/sipp/pnp-phone.xml")
        let sipp = try Client.run("ip", ["netns", "exec", namespace, "sipp", "224.0.1.75:5060", "-sf", file.path,
                                         "-m", "1", "-i", "127.0.0.1", "-p", "25070", "-recv_timeout", "5000",
                                         "-timeout", "20s", "-nostdin"], in: directory)
        #expect(sipp.status == 0, "\(sipp.stdout.suffix(2000))")
    }
}
