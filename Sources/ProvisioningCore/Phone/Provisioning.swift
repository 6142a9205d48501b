import Crypto

/// The answer to a phone's download request, as the phone sees it.
public enum FetchResult: Sendable, Hashable {
    case found([UInt8])
    case notFound
    /// Not something the caller can answer (a URL on another server); the reason is shown.
    case unreachable(String)
}

/// Everything a provisioning depends on besides the server's files.
public struct ProvisioningRequest: Sendable, Hashable {
    /// The provisioning server URL the phone has, wildcards included (R3.6).
    public var serverURL: ServerURLTemplate
    public var mac: MACAddress
    public var model: PhoneModel
    /// The phone's memory from its last provisioning; nil for a phone provisioning for the first time.
    public var previous: PhoneState?
    /// The MAC-local file stored on the phone (R5).
    public var localFile: StoredLocalFile?

    public init(serverURL: ServerURLTemplate, mac: MACAddress, model: PhoneModel, previous: PhoneState? = nil,
                localFile: StoredLocalFile? = nil) {
        self.serverURL = serverURL
        self.mac = mac
        self.model = model
        self.previous = previous
        self.localFile = localFile
    }
}

/// The `<mac>-local.cfg` a phone keeps (R5), with the name to show for it.
public struct StoredLocalFile: Sendable, Hashable {
    public var name: String
    public var file: ConfigFile

    public init(name: String, file: ConfigFile) {
        self.name = name
        self.file = file
    }
}

/// The phone's provisioning algorithm (R3–R5) as a pure function of its inputs and a way to fetch a URL.
public enum Provisioning {
    /// Settings whose change makes the phone reboot (R4.5, decision).
    public static let rebootPrefixes = ["static.network.", "network.", "static.auto_provision.server."]
    static let rebootForceKey = "static.auto_provision.reboot_force.enable"
    static let protectKey = "static.auto_provision.custom.protect"
    static let syncKey = "static.auto_provision.custom.sync"
    static let syncPathKey = "static.auto_provision.custom.sync.path"

    /// Runs one provisioning: which files the phone tries, in what order, and what it ends up with.
    ///
    /// - Parameter fetch: answers the phone's download of a URL.
    /// - Throws: ``ProvisioningURLError`` when the server URL (after wildcards) is not a provisioning URL.
    public static func run(
        _ request: ProvisioningRequest, fetch: (ProvisioningURL) -> FetchResult
    ) throws(ProvisioningURLError) -> ProvisioningOutcome {
        switch try step(request, parsed: nil, fetch: { fetch($0) }) {
        case .complete(let outcome): outcome
        case .pending: preconditionFailure("every URL was fetched")
        }
    }

    /// Where a provisioning got to: complete, or waiting for a URL not downloaded yet.
    enum Progress {
        case complete(ProvisioningOutcome)
        case pending(ProvisioningURL)
    }

    /// ``run(_:fetch:)`` up to the first URL `fetch` has no answer for (nil), or to the end; `parsed` keeps the
    /// files parsed by earlier steps of the same provisioning.
    static func step(
        _ request: ProvisioningRequest, parsed: ParsedDownloads?, fetch: (ProvisioningURL) -> FetchResult?
    ) throws(ProvisioningURLError) -> Progress {
        let previous = request.previous ?? PhoneState()
        let productName = nonBlank(previous.value(ServerURLTemplate.productNameKey))
            ?? request.model.defaultProductName
        let start: ProvisioningStart
        if let known = parsed?.start {
            start = known
        } else {
            start = try request.serverURL.start(productName: productName, mac: request.mac)
            parsed?.start = start
        }
        var plan = DownloadPlan(request: request, start: start, parsed: parsed)
        plan.downloadConfigurationFiles(fetch: fetch)
        if let pending = plan.pending { return .pending(pending) }

        // R4.4: the phone compares the MD5 of every downloaded configuration file with the last provisioning.
        let digests = plan.digests
        let unchanged = request.previous != nil && digests == previous.digests
        var merge = SettingsMerge(previous: previous.settings, overwrite: plan.overwriteMode, model: request.model)
        if unchanged {
            plan.markUnchanged()
        } else {
            for download in plan.configurationFiles { merge.apply(download.file, path: download.path) }
            merge.resetDeletedKeys()
            plan.downloadAndApplyLocalFile(into: &merge, fetch: fetch)
            if let pending = plan.pending { return .pending(pending) }
        }

        let settings = merge.effective
        let changed = settings.filter { key, setting in setting.value != previous.value(key) }.keys
        let rebootRequired = !unchanged
            && (changed.contains { key in rebootPrefixes.contains { key.hasPrefix($0) } }
                || settings[rebootForceKey]?.value == "1")
        var state = PhoneState(digests: digests)
        for (key, setting) in settings {
            if let value = setting.value {
                state.settings[key] = SettingSource(value: value, file: setting.file ?? "", line: setting.line ?? 0)
            }
        }
        return .complete(ProvisioningOutcome(
            mac: request.mac, model: request.model, overwriteMode: plan.overwriteMode, unchanged: unchanged,
            rebootRequired: rebootRequired, files: plan.tried, settings: settings, reset: merge.resetKeys.sorted(),
            state: unchanged ? previous : state))
    }

    /// R5.4: where the phone keeps its MAC-local file on the server when `custom.sync = 1` (nil otherwise): the
    /// sync path when set, else the directory it provisions from (`base`).
    static func localFileURL(mac: MACAddress, base: ProvisioningURL, value: (String) -> String?) -> ProvisioningURL? {
        guard value(syncKey) == "1" else { return nil }
        let directory = nonBlank(value(syncPathKey)).flatMap { try? ProvisioningURL($0).asDirectory } ?? base
        return directory.appending(mac.canonical + "-local.cfg")
    }

    /// R5.4 after a provisioning: the URL the phone uploads its changed MAC-local file to, when its settings sync it.
    public static func localFileUploadURL(_ request: ProvisioningRequest, outcome: ProvisioningOutcome) -> ProvisioningURL? {
        guard let base = base(request, outcome: outcome) else { return nil }
        return localFileURL(mac: request.mac, base: base) { outcome.settings[$0]?.value }
    }

    /// The directory the phone provisioned from (the server URL's, or its boot file's).
    public static func base(_ request: ProvisioningRequest, outcome: ProvisioningOutcome) -> ProvisioningURL? {
        let productName = nonBlank(outcome.state.value(ServerURLTemplate.productNameKey)) ?? request.model.defaultProductName
        return (try? request.serverURL.start(productName: productName, mac: request.mac)).map(DownloadPlan.base)
    }

    static func nonBlank(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }

    /// MD5 of bytes as lower-case hex (R4.4, S3 ETags).
    public static func md5(_ bytes: [UInt8]) -> String {
        Hex.encode(Insecure.MD5.hash(data: bytes))
    }
}
