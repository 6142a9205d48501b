#if os(Linux)
import CLinuxShims
import FastLoop
import Foundation
import Glibc
import NIOCore
import NIOHTTP1
import NIOPosix
import ProvisioningCore
import Synchronization

/// A fleet on epoll threads of the simulator's own, one per core, no thread per phone: each thread runs its share of
/// the phones at a time, every phone a ``FleetPhone`` whose TFTP transfers and plain HTTP exchanges go out on
/// non-blocking sockets polled by the same thread, with the phone's retries (a failed request again a second later,
/// ``PhoneClient/attempts`` in all), TFTP's resends and HTTP's timeout on the thread's timers; a 401 is answered
/// with the phone's credentials as ``PhoneClient`` does. No future, task or hop between threads per request: on SwiftNIO's event
/// loops those cost the simulator more than the server it measured. A request in another scheme (a boot file's include
/// on an HTTPS server, say) is made by ``PhoneClient`` on SwiftNIO and its answer posted back to the thread.
struct EpollFleet {
    let fleet: Fleet
    let phones: [Fleet.Phone]
    let concurrency: Int
    let ramp: Double
    let jitter: Double
    let duration: Double?
    let progress: @Sendable (FleetReport.PhoneResult) -> Void

    /// The schemes the threads speak themselves.
    static let schemes: Set<String> = ["tftp", "http"]

    func run() -> FleetReport {
        let started = ContinuousClock.now
        let slots = max(1, min(concurrency, phones.count))
        let threads = min(System.coreCount, slots)
        let next = NextPhone()
        let results = Mutex<[FleetReport.PhoneResult]>([])
        let finished = DispatchSemaphore(value: 0)
        for index in 0..<threads {
            // Slot s runs on thread s % threads, and starts at its share of the ramp.
            let starts = stride(from: index, to: slots, by: threads).map { slot in
                started + .nanoseconds(Int64(ramp * 1e9 * Double(slot) / Double(slots)))
            }
            Thread { [self] in
                clinux_name_thread("fleet-\(index)")
                let mine = EpollFleetLoop(fleet: self, next: next, starts: starts, started: started).run()
                results.withLock { $0 += mine }
                finished.signal()
            }.start()
        }
        for _ in 0..<threads { finished.wait() }
        return FleetReport(phones: results.withLock { $0 }, seconds: (ContinuousClock.now - started).seconds)
    }
}

/// One thread's phones.
private final class EpollFleetLoop {
    struct Slot {
        var phone: FleetPhone?
        /// When the slot next acts by itself: its first phone's start (ramp), a phone's start (jitter), a retry.
        var wakeAt: ContinuousClock.Instant?
        var request: Request?
        var transfer: TFTPClientTransfer?
        var http: HTTPClientConnection?
        /// No phone is left to start.
        var finished = false
    }

    struct Request {
        var url: ProvisioningURL
        var method: HTTPMethod
        var body: [UInt8]
        var attempt = 1
        let started: ContinuousClock.Instant
        /// The attempt already carries the phone's credentials (a 401 is not answered twice).
        var authorized = false
    }

    /// A request made on SwiftNIO, answered.
    struct Answer: Sendable {
        var slot: Int
        var attempt: PhoneClient.Attempt
        var attempts: Int
    }

    let fleet: EpollFleet
    let next: NextPhone
    let started: ContinuousClock.Instant
    var slots: [Slot]
    var socketSlot: [Int32: Int] = [:]
    var results: [FleetReport.PhoneResult] = []
    let poll = epoll_create1(Int32(EPOLL_CLOEXEC))
    let inbox: LoopInbox<Answer>?
    var scratch = ByteBufferAllocator().buffer(capacity: 65_536 + 4)
    var httpScratch = [UInt8](repeating: 0, count: 16_384)
    /// Servers' addresses by host and port, each name resolved once.
    var addresses: [String: SocketAddress] = [:]
    /// Requests on SwiftNIO not yet answered.
    var elsewhere = 0

    init(fleet: EpollFleet, next: NextPhone, starts: [ContinuousClock.Instant], started: ContinuousClock.Instant) {
        self.fleet = fleet
        self.next = next
        self.started = started
        slots = starts.map { Slot(wakeAt: $0) }
        inbox = (try? LoopControl()).map { LoopInbox<Answer>(control: $0) }
    }

    func run() -> [FleetReport.PhoneResult] {
        defer {
            close(poll)
            if let inbox { close(inbox.control.wakeDescriptor) }
        }
        guard poll >= 0, let inbox else { return [] }
        watch(inbox.control.wakeDescriptor)
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        while slots.contains(where: { !$0.finished }) || elsewhere > 0 {
            let ready = epoll_wait(poll, &events, Int32(events.count), waitMilliseconds(.now))
            for index in 0..<max(Int(ready), 0) {
                let descriptor = cepoll_fd(&events[index])
                if descriptor == inbox.control.wakeDescriptor {
                    inbox.control.acknowledge()
                    for answer in inbox.take() {
                        elsewhere -= 1
                        answered(answer.slot, answer.attempt, attempts: answer.attempts)
                    }
                } else if let slot = socketSlot[descriptor] {
                    if slots[slot].http != nil {
                        httpReady(slot, cepoll_events(&events[index]))
                    } else if let end = slots[slot].transfer?.readable(into: &scratch) {
                        attemptEnded(slot, end)
                    }
                }
            }
            timers(.now)
        }
        return results
    }

    private func watch(_ descriptor: Int32, _ events: UInt32 = EPOLLIN.rawValue, operation: Int32 = EPOLL_CTL_ADD) {
        var event = epoll_event()
        cepoll_set(&event, descriptor, events)
        _ = epoll_ctl(poll, operation, descriptor, &event)
    }

    /// How long the thread may sleep: until the first slot's wake-up, at most 20 ms (TFTP's resends).
    private func waitMilliseconds(_ now: ContinuousClock.Instant) -> Int32 {
        var wait: Duration = .milliseconds(20)
        for slot in slots {
            guard let wakeAt = slot.wakeAt else { continue }
            if wakeAt <= now { return 0 }
            wait = min(wait, wakeAt - now)
        }
        return Int32(wait.components.attoseconds / 1_000_000_000_000_000) + 1
    }

    private func timers(_ now: ContinuousClock.Instant) {
        for slot in slots.indices {
            if let transfer = slots[slot].transfer, now - transfer.lastSent >= .seconds(1),
               let end = slots[slot].transfer?.silence() {
                attemptEnded(slot, end)
            }
            if let http = slots[slot].http, now >= http.deadline { attemptEnded(slot, .failed("timeout")) }
            guard let wakeAt = slots[slot].wakeAt, wakeAt <= now else { continue }
            slots[slot].wakeAt = nil
            if slots[slot].request != nil {
                startAttempt(slot)
            } else if slots[slot].phone != nil {
                advance(slot)
            } else {
                fill(slot)
            }
        }
    }

    /// The slot's next phone, started after its jitter; none once all are taken or the duration is over.
    private func fill(_ slot: Int) {
        if let duration = fleet.duration, ContinuousClock.now - started >= .milliseconds(Int64(duration * 1000)) {
            slots[slot].finished = true
            return
        }
        let index = next.take()
        guard index < fleet.phones.count else {
            slots[slot].finished = true
            return
        }
        let base = fleet.fleet
        slots[slot].phone = FleetPhone(fleet.phones[index], serverURL: base.serverURL, firmware: base.firmware,
                                       localFile: base.localFile)
        if fleet.jitter > 0 {
            slots[slot].wakeAt = .now + .milliseconds(Int64(Double.random(in: 0...fleet.jitter) * 1000))
        } else {
            advance(slot)
        }
    }

    /// The phone's next request, or its end (and the slot's next phone).
    private func advance(_ slot: Int) {
        guard let next = slots[slot].phone?.next() else { return }
        switch next {
        case .done(let result):
            results.append(result)
            fleet.progress(result)
            slots[slot].phone = nil
            slots[slot].wakeAt = .now  // the next phone, from the timers (not recursively: phones may end at once)
        case .request(let url, let method, let body):
            slots[slot].request = Request(url: url, method: method, body: body, started: .now)
            startAttempt(slot)
        }
    }

    private func startAttempt(_ slot: Int) {
        guard let request = slots[slot].request, let phone = slots[slot].phone else { return }
        guard EpollFleet.schemes.contains(request.url.scheme) else {
            // Another scheme: SwiftNIO's client makes it, with its own retries.
            elsewhere += 1
            let inbox = inbox
            fleet.fleet.client.download(request.url, userAgent: phone.userAgent, method: request.method, body: request.body,
                                        on: MultiThreadedEventLoopGroup.singleton.next()).whenComplete { result in
                let (attempt, attempts) = (try? result.get()) ?? (.failed("no answer"), 1)
                inbox?.post(Answer(slot: slot, attempt: attempt, attempts: attempts))
            }
            return
        }
        slots[slot].request?.authorized = false
        if request.url.scheme == "http" {
            startHTTP(slot, authorization: nil)
            return
        }
        guard request.method == .GET else {
            attemptEnded(slot, .refused("\(request.url.scheme): the phone uploads over HTTP (custom.upload_method = 0)"))
            return
        }
        let started = TFTPDownload.target(request.url).flatMap { target in
            TFTPClientTransfer.start(TFTPReadSession(name: target.name), to: target.server)
        }
        switch started {
        case .failure(let failure):
            attemptEnded(slot, .failed(failure.reason))
        case .success(let transfer):
            watch(transfer.socket)
            socketSlot[transfer.socket] = slot
            slots[slot].transfer = transfer
        }
    }

    /// One exchange of the slot's request over HTTP, on a new connection (`authorization`: answering a 401).
    private func startHTTP(_ slot: Int, authorization: String?) {
        guard let request = slots[slot].request, let phone = slots[slot].phone else { return }
        let key = "\(request.url.connectHost) \(request.url.port)"
        guard let address = addresses[key] ?? (try? SocketAddress(ipAddress: request.url.connectHost, port: request.url.port))
                ?? (try? SocketAddress.makeAddressResolvingHost(request.url.connectHost, port: request.url.port)) else {
            attemptEnded(slot, .failed("cannot resolve \(request.url.connectHost)"))
            return
        }
        addresses[key] = address
        let bytes = HTTPExchange.requestBytes(url: request.url, userAgent: phone.userAgent, authorization: authorization,
                                              method: request.method, body: request.body)
        let timeout = Duration.nanoseconds(fleet.fleet.client.timeout.nanoseconds)
        switch HTTPClientConnection.start(to: address, request: bytes, timeout: timeout) {
        case .failure(let failure):
            attemptEnded(slot, .failed(failure.reason))
        case .success(let connection):
            watch(connection.socket, EPOLLOUT.rawValue)
            socketSlot[connection.socket] = slot
            slots[slot].http = connection
        }
    }

    /// The slot's connection can be written or read.
    private func httpReady(_ slot: Int, _ events: UInt32) {
        guard let connection = slots[slot].http else { return }
        var progress = HTTPClientConnection.Progress.pending
        if connection.writing {
            progress = slots[slot].http?.writable() ?? .pending
            if case .pending = progress, slots[slot].http?.writing == false {
                watch(connection.socket, EPOLLIN.rawValue, operation: EPOLL_CTL_MOD)
            }
        } else {
            progress = slots[slot].http?.readable(into: &httpScratch) ?? .pending
        }
        switch progress {
        case .pending:
            break
        case .failed(let reason):
            attemptEnded(slot, .failed(reason))
        case .answered(let answer):
            guard let request = slots[slot].request, !request.authorized,
                  let authorization = fleet.fleet.client.identity.authorization(answering: answer, method: request.method,
                                                                                url: request.url) else {
                attemptEnded(slot, PhoneClient.attempt(answer))
                return
            }
            // S5: the directory asks for credentials; the phone asks again with them, on a new connection.
            closeConnection(slot)
            slots[slot].request?.authorized = true
            startHTTP(slot, authorization: authorization)
        }
    }

    private func closeConnection(_ slot: Int) {
        if let transfer = slots[slot].transfer {
            socketSlot[transfer.socket] = nil
            close(transfer.socket)
            slots[slot].transfer = nil
        }
        if let http = slots[slot].http {
            socketSlot[http.socket] = nil
            close(http.socket)
            slots[slot].http = nil
        }
    }

    /// An attempt's end: a failure is tried again a second later while attempts are left (as ``PhoneClient`` does).
    private func attemptEnded(_ slot: Int, _ attempt: PhoneClient.Attempt) {
        closeConnection(slot)
        guard let request = slots[slot].request else { return }
        if case .failed = attempt, request.attempt < fleet.fleet.client.attempts {
            slots[slot].request?.attempt += 1
            slots[slot].wakeAt = .now + .seconds(1)
            return
        }
        answered(slot, attempt, attempts: request.attempt)
    }

    private func answered(_ slot: Int, _ attempt: PhoneClient.Attempt, attempts: Int) {
        guard let request = slots[slot].request else { return }
        slots[slot].request = nil
        slots[slot].phone?.answered(request.url, method: request.method, bodyBytes: request.body.count, attempt: attempt,
                                    attempts: attempts, seconds: (ContinuousClock.now - request.started).seconds)
        advance(slot)
    }
}
#endif
