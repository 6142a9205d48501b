/// A phone's provisioning made one download at a time, for a caller that must not block on a download (a fleet of
/// simulated phones on a few threads): ``next()`` names the URL the phone asks for next, ``received(_:for:)`` gives
/// the answer, and once no URL is wanted ``outcome`` is what ``Provisioning/run(_:fetch:)`` returns for the same
/// answers, by the same code.
///
/// Each step runs the algorithm again from the start over the answers so far, as far as the first URL it has no answer
/// for: the files downloaded are parsed once, and the settings are merged only when every configuration file is in.
public struct ProvisioningSession {
    public let request: ProvisioningRequest
    private var downloads: [ProvisioningURL: FetchResult] = [:]
    private let parsed = ParsedDownloads()
    /// Set once ``next()`` has returned nil.
    public private(set) var outcome: ProvisioningOutcome?

    public init(request: ProvisioningRequest) {
        self.request = request
    }

    /// The next URL the phone downloads, or nil when its provisioning is complete (``outcome``).
    /// - Throws: ``ProvisioningURLError`` when the server URL (after wildcards) is not a provisioning URL.
    public mutating func next() throws(ProvisioningURLError) -> ProvisioningURL? {
        let downloads = downloads
        switch try Provisioning.step(request, parsed: parsed, fetch: { downloads[$0] }) {
        case .pending(let url):
            return url
        case .complete(let outcome):
            self.outcome = outcome
            return nil
        }
    }

    /// The answer to the download of `url`.
    public mutating func received(_ result: FetchResult, for url: ProvisioningURL) {
        downloads[url] = result
    }
}

/// What the steps of one provisioning would otherwise work out again each time: where it starts, the files it
/// downloaded with their MD5, parsed, and each boot file's includes, read and resolved against its URL.
final class ParsedDownloads {
    var start: ProvisioningStart?
    var files: [ProvisioningURL: (md5: String, file: ConfigFile)] = [:]
    var boots: [ProvisioningURL: BootFile] = [:]
    var includes: [ProvisioningURL: [Result<ProvisioningURL, ProvisioningURLError>]] = [:]
}
