// dhcp-load: DHCP clients on one interface, for autoprov's tests of its built-in server.
//
//   dhcp-load --interface IF --clients N [--first N] [--hostile] [--flood N]
//
// Each client (MAC 02:00:00:xx:xx:xx, from --first on) does DISCOVER, OFFER, REQUEST, ACK, one after the other;
// each prints `<mac> <address>` (or `<mac> -` when it got none within a second). --hostile first sends malformed
// datagrams (truncated, bad cookie, option overrun); --flood N sends N DISCOVERs from one MAC at once and prints
// `offers K`. Run it where the interface is (a network namespace); it needs root (port 68).
import DHCP
import Foundation
import Glibc

struct Arguments {
    var interface = ""
    var clients = 0
    var first = 1
    var hostile = false
    var flood = 0

    init() {
        var words = CommandLine.arguments.dropFirst()
        while let word = words.popFirst() {
            switch word {
            case "--interface": interface = words.popFirst() ?? ""
            case "--clients": clients = Int(words.popFirst() ?? "") ?? 0
            case "--first": first = Int(words.popFirst() ?? "") ?? 1
            case "--hostile": hostile = true
            case "--flood": flood = Int(words.popFirst() ?? "") ?? 0
            default:
                FileHandle.standardError.write(Data("dhcp-load: unknown argument \(word)\n".utf8))
                exit(2)
            }
        }
    }
}

let arguments = Arguments()
let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
var one: Int32 = 1
setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
setsockopt(descriptor, SOL_SOCKET, SO_BROADCAST, &one, socklen_t(MemoryLayout<Int32>.size))
_ = arguments.interface.withCString {
    setsockopt(descriptor, SOL_SOCKET, SO_BINDTODEVICE, $0, socklen_t(strlen($0) + 1))
}
var local = sockaddr_in()
local.sin_family = sa_family_t(AF_INET)
local.sin_port = UInt16(68).bigEndian
let bound = withUnsafePointer(to: &local) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
}
guard bound == 0 else {
    FileHandle.standardError.write(Data("dhcp-load: cannot bind port 68 (errno \(errno))\n".utf8))
    exit(1)
}

func send(_ bytes: [UInt8]) {
    var target = sockaddr_in()
    target.sin_family = sa_family_t(AF_INET)
    target.sin_port = UInt16(67).bigEndian
    target.sin_addr.s_addr = UInt32.max
    _ = withUnsafePointer(to: &target) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            sendto(descriptor, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
}

/// The next reply for `xid` of `type` within `milliseconds`.
func receive(xid: UInt32, type: DHCPMessageType, milliseconds: Int) -> DHCPMessage? {
    let deadline = Date().addingTimeInterval(Double(milliseconds) / 1000)
    var buffer = [UInt8](repeating: 0, count: 4096)
    while Date() < deadline {
        var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let left = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
        guard poll(&ready, 1, left) > 0 else { continue }
        let count = recv(descriptor, &buffer, buffer.count, 0)
        guard count > 0, let message = try? DHCPMessage(parsing: Array(buffer[0..<count])) else { continue }
        if message.op == 2, message.xid == xid, message.messageType == type { return message }
    }
    return nil
}

func mac(_ n: Int) -> [UInt8] {
    [0x02, 0, 0, UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
}

func message(_ type: DHCPMessageType, _ client: [UInt8], xid: UInt32) -> DHCPMessage {
    var message = DHCPMessage(op: 1, xid: xid, chaddr: client)
    message.flags = 0x8000
    message.set(DHCPOption.messageType, [type.rawValue])
    message.set(DHCPOption.parameterRequestList, [1, 3, 6, 66])
    return message
}

func text(_ client: [UInt8]) -> String {
    client.map { String(format: "%02x", $0) }.joined(separator: ":")
}

if arguments.hostile {
    let good = message(.discover, mac(999_999), xid: 7).serialized()
    var badCookie = good
    badCookie[236] = 0
    let overrun = Array(good.prefix(240)) + [53, 1, 1, 60, 250, 1, 2, 3]
    var longHardware = good
    longHardware[2] = 200
    for datagram in [[], [1], Array(good.prefix(100)), Array(good.prefix(239)), badCookie, overrun, longHardware,
                     [UInt8](repeating: 0xFF, count: 1400)] {
        send(datagram)
    }
}

if arguments.flood > 0 {
    let client = mac(arguments.first)
    for n in 0..<arguments.flood { send(message(.discover, client, xid: 0x1000_0000 + UInt32(n)).serialized()) }
    var offers = 0
    var buffer = [UInt8](repeating: 0, count: 4096)
    let deadline = Date().addingTimeInterval(1)
    while Date() < deadline {
        var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&ready, 1, 100) > 0 else { continue }
        let count = recv(descriptor, &buffer, buffer.count, 0)
        if count > 0, let reply = try? DHCPMessage(parsing: Array(buffer[0..<count])), reply.messageType == .offer { offers += 1 }
    }
    print("offers \(offers)")
}

for n in arguments.first..<(arguments.first + arguments.clients) {
    let client = mac(n)
    let xid = UInt32(truncatingIfNeeded: n &* 2_654_435_761)
    send(message(.discover, client, xid: xid).serialized())
    guard let offer = receive(xid: xid, type: .offer, milliseconds: 1000), let server = offer.serverIdentifier else {
        print("\(text(client)) -")
        continue
    }
    var request = message(.request, client, xid: xid)
    request.set(DHCPOption.requestedAddress, offer.yiaddr.bytes)
    request.set(DHCPOption.serverIdentifier, server.bytes)
    send(request.serialized())
    if let ack = receive(xid: xid, type: .ack, milliseconds: 1000) {
        print("\(text(client)) \(ack.yiaddr)")
    } else {
        print("\(text(client)) -")
    }
}
