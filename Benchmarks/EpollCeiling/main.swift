// The ceiling of an HTTP/1.1 server written on epoll directly, one loop per core with SO_REUSEPORT: it answers
// every request with the same 1.5 KB response and does nothing else. scripts/bench measures it beside
// http-ceiling (the same on SwiftNIO), autoprov and nginx, to show what a hand-written event loop could reach
// for cached GETs on this machine.
//
//   epoll-ceiling PORT [THREADS]
import CLinuxShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

let body = String(repeating: "x", count: 1500)
let response = Array(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
    + body).utf8)
let port = UInt16(CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1])! : 18098)
let threads = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2])! : System.coreCount

enum System {
    static var coreCount: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
}

func listener() -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, 4)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    precondition(bound == 0, "epoll-ceiling: cannot bind port \(port)")
    listen(fd, 1024)
    return fd
}

func serve() {
    let listenFD = listener()
    let poll = epoll_create1(0)
    var event = epoll_event()
    cepoll_set(&event, listenFD, EPOLLIN.rawValue)
    epoll_ctl(poll, EPOLL_CTL_ADD, listenFD, &event)
    var events = [epoll_event](repeating: epoll_event(), count: 256)
    var buffer = [UInt8](repeating: 0, count: 16384)
    var pending: [Int32: [UInt8]] = [:]
    while true {
        let ready = epoll_wait(poll, &events, 256, -1)
        guard ready > 0 else { continue }
        for index in 0..<Int(ready) {
            let fd = cepoll_fd(&events[index])
            if fd == listenFD {
                while true {
                    let client = accept(listenFD, nil, nil)
                    if client < 0 { break }
                    _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
                    var one: Int32 = 1
                    setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, 4)
                    var clientEvent = epoll_event()
                    cepoll_set(&clientEvent, client, EPOLLIN.rawValue)
                    epoll_ctl(poll, EPOLL_CTL_ADD, client, &clientEvent)
                }
                continue
            }
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 {
                close(fd)
                pending[fd] = nil
                continue
            }
            var data = pending.removeValue(forKey: fd) ?? []
            data.append(contentsOf: buffer[0..<count])
            var answers = 0
            var start = 0
            var cursor = 0
            while cursor + 3 < data.count {
                if data[cursor] == 13, data[cursor + 1] == 10, data[cursor + 2] == 13, data[cursor + 3] == 10 {
                    answers += 1
                    cursor += 4
                    start = cursor
                } else {
                    cursor += 1
                }
            }
            if start < data.count { pending[fd] = Array(data[start...]) }
            if answers > 0 {
                var out: [UInt8] = []
                out.reserveCapacity(answers * response.count)
                for _ in 0..<answers { out += response }
                _ = out.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
        }
    }
}

for _ in 0..<threads { Thread { serve() }.start() }
while true { sleep(3600) }
