import Foundation
import Hummingbird
import Inventory
import ProvisioningCore
import Storage
import Synchronization

/// How the admin side makes phones provision: the server's check-sync (SIP NOTIFY), paced, given to the API so
/// that this target needs no SIP of its own.
public protocol CheckSyncSender: Sendable {
    /// The SIP URI of each device whose address the device registry knows.
    func targets(_ macs: [String]) throws -> [(mac: String, uri: String)]
    /// Notifies the targets `perSecond` a second and returns once each has answered or timed out; `done` hears of
    /// each as it ends (on any thread).
    func notify(_ targets: [(mac: String, uri: String)], perSecond: Double, reboot: Bool,
                done: @escaping @Sendable (_ mac: String, _ answered: CheckSyncResult) -> Void)
    /// `[inventory] notify_rate`.
    var defaultRate: Double { get }
}

public enum CheckSyncResult: String, Sendable {
    case answered, refused, silent
}

/// `POST /check-sync` and `GET /jobs/{id}`: a paced check-sync to the devices asked for (by MAC, the changed set,
/// or a filter), run as a job whose counts grow as phones answer.
struct CheckSyncAPI {
    let editor: InventoryEditor
    let sender: any CheckSyncSender
    let jobs: CheckSyncJobs

    func register(on group: RouterGroup<AdminContext>) {
        group.post("check-sync") { request, _ in try await self.start(request) }
        group.get("jobs/:id") { _, context in try self.job(context) }
    }

    func start(_ request: Request) async throws -> Response {
        let body = try await APIRequestBody(request, allowed: ["macs", "changed", "filter", "rate", "reboot"])
        let selectors = ["macs", "changed", "filter"].filter(body.has)
        guard selectors.count == 1 else { throw APIError.badRequest("give exactly one of macs, changed and filter") }
        var rate = sender.defaultRate
        if body.has("rate") {
            guard let number = body.fields["rate"] as? NSNumber, String(cString: number.objCType) != "c",
                  number.doubleValue >= 0.1, number.doubleValue <= 1000 else {
                throw APIError.badRequest("rate: notifications a second, 0.1 to 1000")
            }
            rate = number.doubleValue
        }
        var reboot = false
        if body.has("reboot") {
            guard let flag = body.fields["reboot"] as? NSNumber, String(cString: flag.objCType) == "c" else {
                throw APIError.badRequest("reboot: true or false")
            }
            reboot = flag.boolValue
        }
        var macs: [String] = []
        var digests: [String: String]?
        if let listed = try body.strings("macs") {
            guard !listed.isEmpty, listed.count <= 100_000 else { throw APIError.badRequest("macs: 1 to 100,000 MACs") }
            for text in listed {
                let mac = try DevicesAPI.mac(text)
                guard try editor.store.device(mac: mac) != nil else {
                    throw APIError.conflict("\(InventoryError.noSuchDevice(mac))")
                }
                macs.append(mac)
            }
        } else if body.has("changed") {
            guard let flag = body.fields["changed"] as? NSNumber, String(cString: flag.objCType) == "c", flag.boolValue else {
                throw APIError.badRequest("changed: true")
            }
            let changed = try editor.snapshot().changes(since: try editor.store.notified(), serverURL: editor.serverURL)
            macs = changed.map(\.mac)
            digests = Dictionary(uniqueKeysWithValues: changed.map { ($0.mac, $0.digest.text) })
        } else {
            guard let filter = body.fields["filter"] as? [String: Any] else { throw APIError.badRequest("filter: an object") }
            macs = try editor.store.devices(try CheckSyncAPI.filter(filter, secrets: editor.secretVariables)).map(\.mac)
        }
        let job = try run(macs: macs, digests: digests, rate: rate, reboot: reboot)
        var response = try APIJSON.response(jobs.shown(job), status: .accepted)
        response.headers[.location] = "/api/v1/jobs/\(job)"
        return response
    }

    /// Starts a check-sync job to `macs` (each once) and returns its id; the changed devices among them that answer
    /// are recorded as told with their `digests`, as `notify --changed` does.
    func run(macs: [String], digests: [String: String]?, rate: Double, reboot: Bool) throws -> String {
        let macs = Array(Set(macs)).sorted()
        let targets = try sender.targets(macs)
        let job = jobs.start(devices: macs.count, unknownAddress: macs.count - targets.count)
        let (sender, store) = (sender, editor.store)
        Thread { [jobs] in
            let told = Mutex<[String: String]>([:])
            sender.notify(targets, perSecond: rate, reboot: reboot) { mac, result in
                jobs.count(job, result)
                if result == .answered, let digest = digests?[mac] { told.withLock { $0[mac] = digest } }
            }
            let answered = told.withLock { $0 }
            if !answered.isEmpty { try? store.recordNotified(answered) }
            jobs.finish(job)
        }.start()
        return job
    }

    func job(_ context: AdminContext) throws -> Response {
        let id = try DevicesAPI.parameter(context, "id")
        guard let shown = jobs.shown(id) else { throw APIError.notFound("no job \(id)") }
        return try APIJSON.response(shown)
    }

    static func filter(_ object: [String: Any], secrets: SecretVariables) throws -> DeviceFilter {
        if let unknown = object.keys.sorted().first(where: { !["model", "group", "state", "q"].contains($0) }) {
            throw APIError.badRequest("filter.\(unknown): not a filter (model, group, state, q)")
        }
        var filter = DeviceFilter(secrets: secrets)
        for (key, value) in object {
            guard let text = value as? String else { throw APIError.badRequest("filter.\(key): must be a string") }
            switch key {
            case "model": filter.model = try DevicesAPI.model(text)
            case "group":
                if let problem = InventoryNames.groupNameProblem(text) { throw APIError.badRequest("filter.group: \(problem)") }
                filter.group = text
            case "state": filter.state = try DevicesAPI.state(text)
            default: filter.text = text
            }
        }
        return filter
    }
}

/// Check-sync jobs in memory (the latest 100): what was asked, and how many answered, refused or stayed silent.
final class CheckSyncJobs: Sendable {
    struct Job: Encodable, Sendable {
        let id: String
        var state: String
        let devices: Int
        /// Devices whose address the registry does not know: not notified.
        let unknownAddress: Int
        var answered = 0
        var refused = 0
        var silent = 0
        let started: String
        var finished: String?
    }

    private let jobs = Mutex<[String: Job]>([:])
    private let order = Mutex<[String]>([])

    func start(devices: Int, unknownAddress: Int) -> String {
        let id = UUID().uuidString.lowercased()
        let job = Job(id: id, state: "running", devices: devices, unknownAddress: unknownAddress,
                      started: APIJSON.time(Date().timeIntervalSince1970))
        let dropped = order.withLock { order -> [String] in
            order.append(id)
            guard order.count > 100 else { return [] }
            defer { order.removeFirst(order.count - 100) }
            return Array(order.prefix(order.count - 100))
        }
        jobs.withLock { jobs in
            jobs[id] = job
            for old in dropped { jobs[old] = nil }
        }
        return id
    }

    func count(_ id: String, _ result: CheckSyncResult) {
        jobs.withLock { jobs in
            switch result {
            case .answered: jobs[id]?.answered += 1
            case .refused: jobs[id]?.refused += 1
            case .silent: jobs[id]?.silent += 1
            }
        }
    }

    func finish(_ id: String) {
        jobs.withLock { jobs in
            jobs[id]?.state = "done"
            jobs[id]?.finished = APIJSON.time(Date().timeIntervalSince1970)
        }
    }

    func shown(_ id: String) -> Job? { jobs.withLock { $0[id] } }
}
