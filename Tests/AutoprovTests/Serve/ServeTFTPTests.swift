import Foundation
import Testing
import TestSupport

@Suite("autoprov serve over TFTP (RFC 1350, 2347-2349, 7440)", .blocking, .serialized, .timeLimit(.minutes(5)))
struct ServeTFTPTests {
    @Test("curl, tftp-hpa and atftp download the same bytes")
    func clients() throws {
        let server = try ServerProcess(files: ["y000000000000.boot": bootFile, "sip.cfg": sipFile])
        #expect(try Client.run("curl", ["-s", "\(server.tftp)/y000000000000.boot"]).stdout == bootFile)
        let work = server.directory
        let hpa = try Client.run("tftp", ["127.0.0.1", String(server.tftpPort), "-m", "octet", "-c", "get", "sip.cfg",
                                          "hpa.cfg"], in: work)
        #expect(hpa.status == 0, "\(hpa.stderr)")
        #expect(try String(contentsOf: work.appendingPathComponent("hpa.cfg"), encoding: .utf8) == sipFile)
        let netascii = try Client.run("tftp", ["127.0.0.1", String(server.tftpPort), "-m", "netascii", "-c", "get",
                                               "sip.cfg", "ascii.cfg"], in: work)
        #expect(netascii.status == 0)
        #expect(try String(contentsOf: work.appendingPathComponent("ascii.cfg"), encoding: .utf8) == sipFile)
        for options in [["--option", "blksize 1428"], ["--option", "tsize 0"], ["--option", "windowsize 4"],
                        ["--option", "blksize 8", "--option", "windowsize 16", "--option", "timeout 2"]] {
            let name = "atftp-\(UUID().uuidString).cfg"
            let result = try Client.run("atftp", options + ["-g", "-r", "sip.cfg", "-l", name, "127.0.0.1",
                                                              String(server.tftpPort)], in: work)
            #expect(result.status == 0, "\(options) \(result.stderr)")
            #expect(try String(contentsOf: work.appendingPathComponent(name), encoding: .utf8) == sipFile, "\(options)")
        }
    }

    @Test("S1: a missing file is error 1 (curl exit 68: file not found)")
    func missing() throws {
        let server = try ServerProcess()
        let result = try Client.run("curl", ["-s", "\(server.tftp)/00156574b150.boot"])
        #expect(result.status == 68)
    }

    @Test("a 40 MiB file downloads intact with block-number rollover")
    func rollover() throws {
        let server = try ServerProcess()
        var generator = SystemRandomNumberGenerator()
        let bytes = Data((0..<(40 * 1024 * 1024)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try server.writeBytes("T46-28.81.0.110.rom", bytes)
        let out = server.directory.appendingPathComponent("firmware.rom")
        let result = try Client.run("atftp", ["--option", "blksize 512", "--option", "windowsize 8", "-g",
                                              "-r", "T46-28.81.0.110.rom", "-l", out.path, "127.0.0.1",
                                              String(server.tftpPort)])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Data(contentsOf: out) == bytes)  // 81,921 blocks of 512 bytes: the block number wraps
    }

    @Test("every block size the option allows round-trips whole: atftp uploads (WRQ) and downloads (RRQ) it",
          arguments: [512, 1428, 2048, 2049, 8192, 65464])
    func blockSizes(_ size: Int) throws {
        let server = try ServerProcess()
        // 300,001 bytes: many blocks of every size, and a last one shorter than the rest.
        let bytes = Data((0..<300_001).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) })
        let local = server.directory.appendingPathComponent("upload.cfg")
        try bytes.write(to: local)
        let put = try Client.run("atftp", ["--option", "blksize \(size)", "-p", "-l", local.path,
                                           "-r", "00156574b150-local.cfg", "127.0.0.1", String(server.tftpPort)])
        #expect(put.status == 0, "\(put.stderr)")
        let stored = server.data.appendingPathComponent("uploads/00156574b150-local.cfg")
        #expect((try? Data(contentsOf: stored)) == bytes, "the stored upload is \((try? Data(contentsOf: stored))?.count ?? 0) bytes")
        let back = server.directory.appendingPathComponent("back.cfg")
        let get = try Client.run("atftp", ["--option", "blksize \(size)", "-g", "-r", "00156574b150-local.cfg",
                                           "-l", back.path, "127.0.0.1", String(server.tftpPort)])
        #expect(get.status == 0, "\(get.stderr)")
        #expect((try? Data(contentsOf: back)) == bytes)
    }

    @Test("a retransmitted RRQ is the transfer already running, not a second one")
    func retransmittedRequest() throws {
        let server = try ServerProcess(files: ["big.cfg": String(repeating: "x", count: 5000)])
        let client = RawUDPPeer(serverPort: server.tftpPort)
        client.send(RawUDPPeer.request(1, Array("big.cfg".utf8)))
        let (first, transferPort) = try #require(client.receive())
        #expect(Array(first.prefix(4)) == [0, 3, 0, 1])
        // The same request again, from the same port, before the first block is acknowledged.
        client.send(RawUDPPeer.request(1, Array("big.cfg".utf8)))
        client.send(RawUDPPeer.request(1, Array("big.cfg".utf8)))
        // Whatever comes now comes from the one transfer's port (its own retransmissions of block 1).
        for _ in 0..<2 {
            guard let (_, from) = client.receive(timeoutMilliseconds: 1500) else { break }
            #expect(from == transferPort, "a second transfer answered from port \(from)")
        }
        let page = try Client.curl(["\(server.http)/metrics"]).body
        #expect(page.contains("autoprov_transfers_in_flight{protocol=\"tftp\"} 1"), "\(page)")
    }

    @Test("RFC 1350 §4: a packet to a transfer's port from another port gets error 5 and changes nothing")
    func unknownTransferID() throws {
        let server = try ServerProcess(files: ["big.cfg": String(repeating: "x", count: 5000)])
        let client = RawUDPPeer(serverPort: server.tftpPort)
        client.send(RawUDPPeer.request(1, Array("big.cfg".utf8)))
        let (first, port) = try #require(client.receive())
        #expect(Array(first.prefix(4)) == [0, 3, 0, 1])
        let stranger = RawUDPPeer(serverPort: server.tftpPort)
        stranger.send([0, 4, 0, 1], to: port)
        let (error, from) = try #require(stranger.receive(), "the stranger got no answer")
        #expect(Array(error.prefix(4)) == [0, 5, 0, 5] && from == port)
        // The stranger's ACK did not move the transfer: no block 2 before the client's own ACK of block 1 (at most
        // block 1 again, should the server's timer run out meanwhile), which brings it.
        if let (early, _) = client.receive(timeoutMilliseconds: 300) {
            #expect(Array(early.prefix(4)) == [0, 3, 0, 1], "the stranger's ACK moved the transfer")
        }
        client.send([0, 4, 0, 1], to: port)
        let (second, _) = try #require(client.receive())
        #expect(Array(second.prefix(4)) == [0, 3, 0, 2])
    }

    @Test("5,000 unacknowledged RRQs from one address take at most its share; another address is still served")
    func requestFlood() throws {
        var files: [String: String] = ["sip.cfg": sipFile]
        for index in 0..<100 { files["f\(index).cfg"] = String(repeating: "y", count: 2000) }
        let server = try ServerProcess(files: files,
                                       configuration: "[limits]\ntftp_transfers = 64\ntftp_transfers_per_address = 16\n")
        // 127.0.0.2 asks for 100 files, 50 times each, and never acknowledges anything.
        let flood = RawUDPPeer(serverPort: server.tftpPort, source: "127.0.0.2")
        for round in 0..<50 {
            for index in 0..<100 { flood.send(RawUDPPeer.request(1, Array("f\(index).cfg".utf8))) }
            if round == 0 { #expect(eventually { (try? server.event("tftp-dropped")) ?? 0 > 0 }) }
        }
        // Its transfers hold at most its 16 sockets; the rest was dropped, and 127.0.0.3 is served meanwhile.
        let page = try Client.curl(["\(server.http)/metrics"]).body
        let inFlight = page.split(separator: "\n").first { $0.hasPrefix("autoprov_transfers_in_flight{protocol=\"tftp\"}") }
        #expect(inFlight.flatMap { Int($0.split(separator: " ").last ?? "") }.map { $0 <= 16 } == true, "\(page)")
        let other = RawUDPPeer(serverPort: server.tftpPort, source: "127.0.0.3")
        other.send(RawUDPPeer.request(1, Array("sip.cfg".utf8)))
        let (data, port) = try #require(other.receive(), "127.0.0.3 was not served")
        #expect(Array(data.dropFirst(4)) == Array(sipFile.utf8))
        other.send([0, 4, 0, 1], to: port)
        // What the kernel let through beyond the 16 was dropped by the limit, counted, never answered.
        #expect(try server.event("tftp-dropped") > 0)
    }

    @Test("options: OACK carries only what was asked; an out-of-range blksize is refused with error 8")
    func options() throws {
        let server = try ServerProcess(files: ["sip.cfg": sipFile])
        let client = RawUDPPeer(serverPort: server.tftpPort)
        client.send(RawUDPPeer.request(1, Array("sip.cfg".utf8)) + Array("tsize\u{0}0\u{0}".utf8))
        let (oack, port) = try #require(client.receive())
        #expect(oack == [0, 6] + Array("tsize\u{0}\(sipFile.utf8.count)\u{0}".utf8))
        client.send([0, 4, 0, 0], to: port)
        let (data, _) = try #require(client.receive())
        #expect(Array(data.dropFirst(4)) == Array(sipFile.utf8))
        client.send([0, 4, 0, 1], to: port)

        let refused = RawUDPPeer(serverPort: server.tftpPort)
        refused.send(RawUDPPeer.request(1, Array("sip.cfg".utf8)) + Array("blksize\u{0}4\u{0}".utf8))
        let (error, _) = try #require(refused.receive())
        #expect(Array(error.prefix(4)) == [0, 5, 0, 8])
    }

    @Test("duplicate ACKs do not resend (no Sorcerer's Apprentice); a silent client is dropped without hurting others")
    func silentClient() throws {
        let server = try ServerProcess(files: ["sip.cfg": sipFile, "big.cfg": String(repeating: "x", count: 5000)])
        let client = RawUDPPeer(serverPort: server.tftpPort)
        client.send(RawUDPPeer.request(1, Array("big.cfg".utf8)))
        let (first, port) = try #require(client.receive())
        #expect(Array(first.prefix(4)) == [0, 3, 0, 1])
        client.send([0, 4, 0, 1], to: port)
        let (second, _) = try #require(client.receive())
        #expect(Array(second.prefix(4)) == [0, 3, 0, 2])
        client.send([0, 4, 0, 1], to: port)  // a duplicate ACK of block 1: nothing is sent for it
        // The next packet is block 2 again, sent because the server's timer ran out (it counts that before it
        // resends), not in answer to the duplicate.
        let (again, _) = try #require(client.receive())
        #expect(Array(again.prefix(4)) == [0, 3, 0, 2])
        #expect(try server.event("tftp-timeout") >= 1)
        // Now stop answering; meanwhile another client is served.
        #expect(try Client.run("curl", ["-s", "\(server.tftp)/sip.cfg"]).stdout == sipFile)
        // The silent client is given up on after its retransmissions: the server says so in /metrics.
        let metrics = { try Client.curl(["\(server.http)/metrics"]).body }
        #expect(try eventually(within: 60) {
            let page = try metrics()
            return page.contains("autoprov_transfers_in_flight{protocol=\"tftp\"} 0")
                && page.contains("autoprov_requests_total{protocol=\"tftp\",result=\"failed\"} 1")
        }, "\((try? metrics()) ?? "")")
    }

    @Test("S4: WRQ stores an allowed upload (tftp-hpa put) that a later GET returns; other names get error 2")
    func upload() throws {
        let server = try ServerProcess()
        let work = server.directory
        try "#!version:1.0.0.1\naccount.1.label = tftp\n".write(to: work.appendingPathComponent("local.cfg"),
                                                               atomically: true, encoding: .utf8)
        let put = try Client.run("tftp", ["127.0.0.1", String(server.tftpPort), "-m", "octet", "-c", "put", "local.cfg",
                                          "00156574b150-local.cfg"], in: work)
        #expect(put.status == 0, "\(put.stderr)")
        #expect(try Client.curl(["\(server.http)/00156574b150-local.cfg"]).body == "#!version:1.0.0.1\naccount.1.label = tftp\n")
        let refused = RawUDPPeer(serverPort: server.tftpPort)
        refused.send(RawUDPPeer.request(2, Array("y000000000000.boot".utf8)))
        let (error, _) = try #require(refused.receive())
        #expect(Array(error.prefix(4)) == [0, 5, 0, 2])
    }

    @Test("SIGTERM lets a transfer in flight finish, then exits 0")
    func drainOnShutdown() throws {
        let server = try ServerProcess()
        let bytes = Data((0..<(8 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try server.writeBytes("T46-28.81.0.110.rom", bytes)
        let out = server.directory.appendingPathComponent("firmware.rom")
        let download = Process()
        download.executableURL = URL(fileURLWithPath: "/usr/bin/atftp")
        download.arguments = ["--option", "blksize 512", "-g", "-r", "T46-28.81.0.110.rom", "-l", out.path,
                              "127.0.0.1", String(server.tftpPort)]
        download.standardOutput = FileHandle.nullDevice
        download.standardError = FileHandle.nullDevice
        try Children.start(download)
        // Stopped once the transfer is under way (the first blocks are written).
        #expect(eventually { ((try? FileManager.default.attributesOfItem(atPath: out.path)[.size]) as? Int ?? 0) > 0 })
        #expect(download.isRunning)
        #expect(server.stop() == 0)
        #expect(download.finish(within: 60))
        #expect(download.terminationStatus == 0)
        #expect(try Data(contentsOf: out) == bytes)
    }

    @Test("during the drain a new request is not answered, and the transfer in flight still ends whole")
    func refusedDuringDrain() throws {
        let payload = String(repeating: "0123456789", count: 500)
        let server = try ServerProcess(files: ["sip.cfg": sipFile, "big.cfg": payload])
        // A transfer held open by the test: block 2 is not acknowledged until the server has been told to stop.
        let client = RawUDPPeer(serverPort: server.tftpPort)
        client.send(RawUDPPeer.request(1, Array("big.cfg".utf8)))
        let (first, port) = try #require(client.receive())
        #expect(Array(first.prefix(4)) == [0, 3, 0, 1])
        client.send([0, 4, 0, 1], to: port)
        kill(server.process.processIdentifier, SIGTERM)
        // Probed until the listener is closed (a request answered before the signal is handled does not count).
        let probe = RawUDPPeer(serverPort: server.tftpPort)
        #expect(eventually(within: 20) {
            probe.send(RawUDPPeer.request(1, Array("sip.cfg".utf8)))
            return probe.receive(timeoutMilliseconds: 300) == nil
        })
        #expect(server.process.isRunning, "the server waits for the transfer in flight")
        // Now the held transfer goes on to its end (stale retransmissions of a block are skipped).
        var received = Array(first.dropFirst(4))
        var block: UInt16 = 2
        while let (packet, _) = client.receive() {
            guard packet.count >= 4, packet[1] == 3 else { break }
            let number = UInt16(packet[2]) << 8 | UInt16(packet[3])
            client.send([0, 4, packet[2], packet[3]], to: port)
            guard number == block else { continue }
            received += packet.dropFirst(4)
            if packet.count < 516 { break }
            block += 1
        }
        #expect(received == Array(payload.utf8))
        #expect(server.process.finish(within: 30))
        #expect(server.process.terminationStatus == 0)
    }

    @Test("malformed packets each get one error 4 and the server keeps serving")
    func malformed() throws {
        let server = try ServerProcess(files: ["sip.cfg": sipFile])
        let client = RawUDPPeer(serverPort: server.tftpPort)
        // Each is answered with error 4 (illegal TFTP operation, RFC 1350) from the server's port, and nothing else.
        for garbage: [UInt8] in [[], [0], [0, 9], [0, 1, 65, 66], [0, 3, 0, 1, 1, 2], [0, 1, 0, 0],
                                 Array(repeating: 0x41, count: 2000), [0, 1] + Array(repeating: 0x41, count: 600) + [0]] {
            client.send(garbage)
            let reply = client.receive()
            #expect(reply.map { Array($0.0.prefix(4)) } == [0, 5, 0, 4], "\(garbage.prefix(8)): \(String(describing: reply))")
            #expect(reply?.1 == UInt16(server.tftpPort))
            #expect(client.receive(timeoutMilliseconds: 200) == nil, "one answer to \(garbage.prefix(8))")
        }
        #expect(try Client.run("curl", ["-s", "\(server.tftp)/sip.cfg"]).stdout == sipFile)
        #expect(server.stop() == 0)
    }
}
