import NIOCore
import NIOHTTP1
import NIOPosix
import ProvisioningCore
import Synchronization

/// Many phones provisioning at once from one process: `concurrency` phones in flight, no thread per phone; over TFTP
/// and plain HTTP on the simulator's own epoll threads (``EpollFleet``), otherwise (HTTPS, FTP) on one SwiftNIO
/// event loop per core. Each phone runs the same algorithm as `simulate` for one, through a ``ProvisioningSession``: the
/// session names the next URL the phone asks for, it is fetched (without blocking) and handed back, until the session
/// wants none. A phone's downloads are thus exactly the ones the phone makes, in its order.
public final class Fleet: Sendable {
    public struct Phone: Sendable {
        public var mac: MACAddress
        public var model: PhoneModel

        public init(mac: MACAddress, model: PhoneModel) {
            self.mac = mac
            self.model = model
        }
    }

    let client: PhoneClient
    /// The process's event loops, one per core (never shut down: the last reference to a fleet may go on one).
    var group: MultiThreadedEventLoopGroup { .singleton }
    let serverURL: ServerURLTemplate
    let firmware: String
    /// The MAC-local file every phone holds (R5): applied when protected, uploaded when synced and the server's
    /// copy differs (R5.4).
    let localFile: [UInt8]?

    public init(client: PhoneClient, serverURL: ServerURLTemplate, firmware: String, localFile: [UInt8]? = nil) {
        self.client = client
        self.serverURL = serverURL
        self.firmware = firmware
        self.localFile = localFile
    }

    /// Runs every phone, `concurrency` at a time, the first `concurrency` started evenly over `ramp` seconds, each
    /// after a random wait of up to `jitter` seconds (phones do not all boot at once); no phone is started once
    /// `duration` seconds have passed. Returns when all started have finished. `progress` hears of each phone as it
    /// ends (on an event loop).
    public func run(_ phones: [Phone], concurrency: Int, ramp: Double = 0, jitter: Double = 0, duration: Double? = nil,
                    progress: @escaping @Sendable (FleetReport.PhoneResult) -> Void = { _ in }) -> FleetReport {
        #if os(Linux)
        if let scheme = serverURL.text.split(separator: ":").first, EpollFleet.schemes.contains(scheme.lowercased()) {
            return EpollFleet(fleet: self, phones: phones, concurrency: concurrency, ramp: ramp, jitter: jitter,
                              duration: duration, progress: progress).run()
        }
        #endif
        let next = NextPhone()
        let results = Mutex<[FleetReport.PhoneResult]>([])
        let started = ContinuousClock.now
        let slots = max(1, min(concurrency, phones.count))
        var done: [EventLoopFuture<Void>] = []
        for slot in 0..<slots {
            let loop = group.next()
            let promise = loop.makePromise(of: Void.self)
            let delay = ramp > 0 ? TimeAmount.nanoseconds(Int64(ramp * 1e9 * Double(slot) / Double(slots))) : .zero
            loop.scheduleTask(in: delay) {
                self.runSlot(phones, next: next, on: loop, done: promise, pacing: Pacing(started: started, jitter: jitter,
                                                                                         duration: duration)) { result in
                    results.withLock { $0.append(result) }
                    progress(result)
                }
            }
            done.append(promise.futureResult)
        }
        _ = try? EventLoopFuture.andAllComplete(done, on: group.next()).wait()
        return FleetReport(phones: results.withLock { $0 }, seconds: (ContinuousClock.now - started).seconds)
    }

    /// One slot: phones one after another until none is left.
    struct Pacing {
        let started: ContinuousClock.Instant
        let jitter: Double
        let duration: Double?
    }

    private func runSlot(_ phones: [Phone], next: NextPhone, on loop: EventLoop, done: EventLoopPromise<Void>,
                         pacing: Pacing, finished: @escaping @Sendable (FleetReport.PhoneResult) -> Void) {
        if let duration = pacing.duration, ContinuousClock.now - pacing.started >= .milliseconds(Int64(duration * 1000)) {
            done.succeed(())
            return
        }
        let index = next.take()
        guard index < phones.count else {
            done.succeed(())
            return
        }
        let wait = pacing.jitter > 0 ? TimeAmount.milliseconds(Int64(Double.random(in: 0...pacing.jitter) * 1000)) : .zero
        loop.scheduleTask(in: wait) {}.futureResult.flatMap { self.provision(phones[index], on: loop) }.whenSuccess { result in
            finished(result)
            self.runSlot(phones, next: next, on: loop, done: done, pacing: pacing, finished: finished)
        }
    }

    /// One phone's whole provisioning, one request at a time (``FleetPhone``), each made without blocking.
    func provision(_ phone: Phone, on loop: EventLoop) -> EventLoopFuture<FleetReport.PhoneResult> {
        let state = NIOLoopBoundBox(FleetPhone(phone, serverURL: serverURL, firmware: firmware, localFile: localFile),
                                    eventLoop: loop)
        let promise = loop.makePromise(of: FleetReport.PhoneResult.self)

        @Sendable func step() {
            switch state.value.next() {
            case .done(let result):
                promise.succeed(result)
            case .request(let url, let method, let body):
                let started = ContinuousClock.now
                client.download(url, userAgent: state.value.userAgent, method: method, body: body, on: loop)
                    .whenComplete { result in
                        let (attempt, attempts) = (try? result.get()) ?? (.failed("no answer"), 1)
                        state.value.answered(url, method: method, bodyBytes: body.count, attempt: attempt,
                                             attempts: attempts, seconds: (ContinuousClock.now - started).seconds)
                        step()
                    }
            }
        }
        loop.execute { step() }
        return promise.futureResult
    }

    /// Why a phone would fail (nil: it reached a configuration file): what its downloads ran into.
    static func failure(_ outcome: ProvisioningOutcome) -> String? {
        let reached = outcome.files.contains { $0.status == .applied && [.commonConfig, .macConfig, .include].contains($0.role) }
        if reached { return nil }
        if outcome.files.contains(where: { $0.status == .invalid }) { return "bad file" }
        let notes = outcome.files.compactMap(\.note)
        if notes.contains(where: { $0.contains("timeout") }) { return "timeout" }
        if notes.contains(where: { $0.contains("refused") }) { return "refused" }
        return "not found"
    }
}

/// The index of the next phone to start, shared by the slots.
final class NextPhone: Sendable {
    private let index = Atomic<Int>(0)
    func take() -> Int { index.add(1, ordering: .relaxed).oldValue }
}
