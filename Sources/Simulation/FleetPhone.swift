import NIOHTTP1
import ProvisioningCore

/// One phone of a fleet without the I/O: which request it makes next (a download its algorithm asks for, then the
/// upload of its MAC-local file when R5.4 says so), what each answer does to it, and its result once it is done. The
/// drivers (on SwiftNIO's event loops, or the simulator's own epoll threads) only carry the requests out.
struct FleetPhone {
    let mac: MACAddress
    let request: ProvisioningRequest
    let userAgent: String
    /// The MAC-local file the phone holds (R5), uploaded when synced and the server's copy differs (R5.4).
    let localFile: [UInt8]?
    let started: ContinuousClock.Instant
    private var session: ProvisioningSession
    private(set) var transfers: [Transfer] = []
    private var uploaded = false

    init(_ phone: Fleet.Phone, serverURL: ServerURLTemplate, firmware: String, localFile: [UInt8]?,
         started: ContinuousClock.Instant = .now) {
        mac = phone.mac
        request = ProvisioningRequest(serverURL: serverURL, mac: phone.mac, model: phone.model,
                                      localFile: localFile.map { StoredLocalFile(name: "local", file: ConfigFile(bytes: $0)) })
        userAgent = PhoneIdentity.yealinkUserAgent(model: phone.model, firmware: firmware, mac: phone.mac)
        self.localFile = localFile
        self.started = started
        session = ProvisioningSession(request: request)
    }

    enum Next {
        case request(ProvisioningURL, method: HTTPMethod, body: [UInt8])
        case done(FleetReport.PhoneResult)
    }

    /// What the phone does now; after a `.request`, ``answered(_:method:attempt:attempts:seconds:)`` must follow.
    mutating func next(now: ContinuousClock.Instant = .now) -> Next {
        let step = Result { () throws(ProvisioningURLError) in try session.next() }
        if case .success(let url?) = step { return .request(url, method: .GET, body: []) }
        let outcome = session.outcome
        // R5.4: the phone's own local file goes up when synced and the server's copy differs.
        if let outcome, let localFile, !uploaded, let target = Provisioning.localFileUploadURL(request, outcome: outcome),
           outcome.files.first(where: { $0.role == .macLocal && $0.md5 != nil })?.md5 != Provisioning.md5(localFile) {
            uploaded = true
            return .request(target, method: .PUT, body: localFile)
        }
        return .done(FleetReport.PhoneResult(mac: mac.canonical, transfers: transfers, seconds: (now - started).seconds,
                                             failure: outcome.map(Fleet.failure) ?? "bad URL"))
    }

    /// The answer to the request ``next(now:)`` asked for: recorded, and given to the algorithm when a download.
    mutating func answered(_ url: ProvisioningURL, method: HTTPMethod, bodyBytes: Int, attempt: PhoneClient.Attempt,
                           attempts: Int, seconds: Double) {
        let (shown, bytes, fetched) = PhoneClient.result(of: attempt)
        transfers.append(Transfer(url: url.description, protocol: url.scheme, method: method.rawValue, result: shown,
                                  bytes: method == .GET ? bytes : bodyBytes, seconds: seconds, attempts: attempts))
        if method == .GET { session.received(fetched, for: url) }
    }
}
