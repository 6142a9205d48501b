/// The files a phone downloads, in the order of R3, and what became of each.
struct DownloadPlan {
    let request: ProvisioningRequest
    let start: ProvisioningStart
    /// The server's root (`tftp://host/`): paths below it are shown relative to it.
    let root: ProvisioningURL
    /// The directory the phone provisions from: MAC-local files are fetched here (R5.4).
    let base: ProvisioningURL

    private(set) var tried: [TriedFile] = []
    private(set) var configurationFiles: [(file: ConfigFile, path: String, index: Int)] = []
    /// MD5 of every configuration file downloaded (R4.4: includes in boot mode; common and MAC CFG otherwise).
    private(set) var digests: [String: String] = [:]
    private(set) var overwriteMode = false
    /// The first URL the fetcher had no answer for yet: the plan stops there (``Provisioning/step``).
    private(set) var pending: ProvisioningURL?
    let parsed: ParsedDownloads?

    init(request: ProvisioningRequest, start: ProvisioningStart, parsed: ParsedDownloads? = nil) {
        self.request = request
        self.start = start
        self.parsed = parsed
        let url: ProvisioningURL = switch start {
        case .directory(let directory): directory
        case .bootFile(let bootFile): bootFile
        }
        base = DownloadPlan.base(of: start)
        root = ProvisioningURL(scheme: url.scheme, authority: url.authority, path: "/", query: nil)
    }

    /// The directory a start provisions from.
    static func base(of start: ProvisioningStart) -> ProvisioningURL {
        switch start {
        case .directory(let directory): directory
        case .bootFile(let bootFile): (try? bootFile.resolving("./")) ?? bootFile
        }
    }

    /// R3.1–R3.6: the boot file (MAC-oriented, then common) and its includes, or the common and MAC CFG files.
    mutating func downloadConfigurationFiles(fetch: (ProvisioningURL) -> FetchResult?) {
        let mac = request.mac
        switch start {
        case .bootFile(let url):
            // R3.6: a URL naming a .boot file means that boot file and its includes only.
            let role: FileRole = url.lastSegment == BootFile.name(for: mac) ? .macBoot : .commonBoot
            if let boot = downloadBootFile(url, role: role, fetch: fetch) {
                downloadIncludes(of: boot, at: url, fetch: fetch)
            }
        case .directory(let directory):
            for (name, role) in [(BootFile.name(for: mac), FileRole.macBoot), (BootFile.commonName, .commonBoot)] {
                let url = directory.appending(name)
                if let boot = downloadBootFile(url, role: role, fetch: fetch) {
                    downloadIncludes(of: boot, at: url, fetch: fetch)  // R3.4: the first boot file found wins.
                    return
                }
            }
            downloadConfigurationFile(directory.appending(request.model.commonConfigName), role: .commonConfig,
                                      fetch: fetch)
            downloadConfigurationFile(directory.appending(mac.canonical + ".cfg"), role: .macConfig, fetch: fetch)
        }
    }

    /// R5: the MAC-local file, downloaded first when `custom.sync = 1`, applied last when protected.
    mutating func downloadAndApplyLocalFile(
        into merge: inout SettingsMerge, fetch: (ProvisioningURL) -> FetchResult?
    ) {
        var local = request.localFile
        var index: Int?
        if let url = Provisioning.localFileURL(mac: request.mac, base: base, value: merge.value) {
            let path = displayPath(url)
            index = tried.count
            guard let result = fetch(url) else {
                pending = url
                return
            }
            switch result {
            case .found(let bytes):
                let (md5, file) = parse(bytes, from: url)
                local = StoredLocalFile(name: path, file: file)
                tried.append(TriedFile(path: path, role: .macLocal, status: .applied, md5: md5))
            case .notFound:
                index = nil
                tried.append(TriedFile(path: path, role: .macLocal, status: .missing))
            case .unreachable(let reason):
                index = nil
                tried.append(TriedFile(path: path, role: .macLocal, status: .ignored, note: reason))
            }
        }
        guard let local else { return }
        if index == nil {
            index = tried.count
            tried.append(TriedFile(path: local.name, role: .macLocal, status: .applied))
        }
        let protect = overwriteMode || merge.value(Provisioning.protectKey) == "1"
        if !local.file.hasHeader {
            tried[index!].status = .invalid
            tried[index!].note = "no \(ConfigFile.header) header on the first line (R1.1)"
        } else if protect {
            merge.apply(local.file, path: local.name, isLocal: true)  // R5.2
        } else {
            tried[index!].status = .ignored
            tried[index!].note = "static.auto_provision.custom.protect is not 1 and overwrite mode is off (R5.3)"
        }
    }

    /// R4.4: every configuration file is as last time, so the phone updates nothing, MAC-local file included.
    mutating func markUnchanged() {
        let note = "MD5 unchanged since the last provisioning (R4.4)"
        for download in configurationFiles {
            tried[download.index].status = .ignored
            tried[download.index].note = note
        }
        if let local = request.localFile {
            tried.append(TriedFile(path: local.name, role: .macLocal, status: .ignored, note: note))
        }
    }

    private mutating func downloadBootFile(
        _ url: ProvisioningURL, role: FileRole, fetch: (ProvisioningURL) -> FetchResult?
    ) -> BootFile? {
        guard let file = download(url, role: role, fetch: fetch) else { return nil }
        if let known = parsed?.boots[url] { return known }
        let boot = BootFile(file.file)
        parsed?.boots[url] = boot
        return boot
    }

    private mutating func downloadIncludes(
        of boot: BootFile, at url: ProvisioningURL, fetch: (ProvisioningURL) -> FetchResult?
    ) {
        overwriteMode = boot.overwriteMode.isOn
        // R2.3: relative to the boot file's URL, or an absolute URL as is.
        let targets = parsed?.includes[url] ?? boot.includes.map { include in
            Result { () throws(ProvisioningURLError) in try url.resolving(include.path) }
        }
        parsed?.includes[url] = targets
        for (include, target) in zip(boot.includes, targets) {
            switch target {
            case .success(let target):
                downloadConfigurationFile(target, role: .include, fetch: fetch)
            case .failure(let error):
                tried.append(TriedFile(path: include.path, role: .include, status: .invalid, note: error.description))
            }
        }
    }

    private mutating func downloadConfigurationFile(
        _ url: ProvisioningURL, role: FileRole, fetch: (ProvisioningURL) -> FetchResult?
    ) {
        guard let (file, path) = download(url, role: role, fetch: fetch, recordDigest: true) else { return }
        configurationFiles.append((file, path, tried.count - 1))
    }

    /// Fetches a file and records it; returns it when found with a valid header (R1.1, R3.5).
    private mutating func download(
        _ url: ProvisioningURL, role: FileRole, fetch: (ProvisioningURL) -> FetchResult?, recordDigest: Bool = false
    ) -> (file: ConfigFile, path: String)? {
        guard pending == nil else { return nil }
        let path = displayPath(url)
        guard let result = fetch(url) else {
            pending = url
            return nil
        }
        switch result {
        case .notFound:
            tried.append(TriedFile(path: path, role: role, status: .missing))
            return nil
        case .unreachable(let reason):
            tried.append(TriedFile(path: path, role: role, status: .ignored, note: reason))
            return nil
        case .found(let bytes):
            let (md5, file) = parse(bytes, from: url)
            if recordDigest { digests[path] = md5 }
            guard file.hasHeader else {
                tried.append(TriedFile(path: path, role: role, status: .invalid, md5: md5,
                                       note: "no \(ConfigFile.header) header on the first line (R1.1)"))
                return nil
            }
            tried.append(TriedFile(path: path, role: role, status: .applied, md5: md5))
            return (file, path)
        }
    }

    /// A downloaded file's MD5 and parse, made once per provisioning when the plan has ``parsed``.
    private func parse(_ bytes: [UInt8], from url: ProvisioningURL) -> (md5: String, file: ConfigFile) {
        if let parsed, let known = parsed.files[url] { return known }
        let made = (Provisioning.md5(bytes), ConfigFile(bytes: bytes))
        parsed?.files[url] = made
        return made
    }

    private func displayPath(_ url: ProvisioningURL) -> String {
        url.path(relativeTo: root) ?? url.description
    }
}

extension ProvisioningURL {
    /// A file in this directory; the name is percent-encoded as needed.
    func appending(_ name: String) -> ProvisioningURL {
        ProvisioningURL(scheme: scheme, authority: authority,
                        path: asDirectory.path + ProvisioningURL.encodeForWire(name), query: nil)
    }
}
