import Foundation

/// The kernel's table of IPv4 TCP sockets (`/proc/net/tcp`): what the server holds, seen from outside it, so a test
/// waits for a state instead of sleeping.
enum TCPTable {
    /// One socket: its local port, state (01 is ESTABLISHED) and bytes waiting to be sent.
    struct Entry {
        let localPort: Int
        let state: String
        let sendQueue: Int
    }

    static var entries: [Entry] {
        // Read to the end: a /proc file says its size is 0, and a read sized by that stops after the first page.
        let data = (try? FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/net/tcp")).readToEnd()) ?? nil
        let table = String(decoding: data ?? Data(), as: UTF8.self)
        return table.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 4, let port = fields[1].split(separator: ":").last.flatMap({ Int($0, radix: 16) }),
                  let queue = fields[4].split(separator: ":").first.flatMap({ Int($0, radix: 16) })
            else { return nil }
            return Entry(localPort: port, state: String(fields[3]), sendQueue: queue)
        }
    }

    /// Established connections whose local end is `port`: the server has accepted them.
    static func established(localPort port: Int) -> Int {
        entries.filter { $0.localPort == port && $0.state == "01" }.count
    }

    /// Bytes the server has written on its connections at `port` that the peers have not taken yet.
    static func sendQueueBytes(localPort port: Int) -> Int {
        entries.filter { $0.localPort == port }.reduce(0) { $0 + $1.sendQueue }
    }
}
