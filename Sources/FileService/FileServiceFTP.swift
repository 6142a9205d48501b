import ProvisioningCore

/// What FTP asks of the file service beyond reads and writes: listings, `stat`, and logins.
extension FileService {
    /// What a directory listing or a stat comes to.
    public enum ListAnswer: Error, Sendable {
        case entries([String: ConfinedTree.Facts])
        case entry(ConfinedTree.Facts)
        case notFound
        case forbidden(String)
    }

    /// The entries of a directory: the root's and the upload store's, merged (S2 and S5 as for reads). Blocking.
    public func list(_ request: FileRequest) -> ListAnswer {
        switch directoryCheck(request) {
        case .failure(let answer): return answer
        case .success(let path):
            let root = rootTree.list(path), uploaded = uploadTree.list(path)
            guard root != nil || uploaded != nil else { return .notFound }
            return .entries((root ?? [:]).merging(uploaded ?? [:]) { _, upload in upload })
        }
    }

    /// What `stat` says of a file or directory, uploads first (S2 and S5 as for reads). Blocking.
    public func entry(_ request: FileRequest) -> ListAnswer {
        switch directoryCheck(request) {
        case .failure(let answer): return answer
        case .success(let path):
            if let uploaded = uploadTree.facts(path) { return .entry(uploaded) }
            // A generated file: what RETR would send this session (its size after redaction or encryption).
            if let path, !path.path.contains("/"), generated != nil, case .answer(.file(let file)) = decide(request) {
                return .entry(ConfinedTree.Facts(isDirectory: false, size: file.contents.readableBytes, modified: file.modified))
            }
            guard var facts = rootTree.facts(path) else { return .notFound }
            // A file encrypted on the way out is longer than on disk (padding): SIZE must say what RETR sends.
            if let path, !facts.isDirectory, encryption.key(for: path) != nil,
               case .answer(.file(let file)) = decide(request) {
                facts.size = file.contents.readableBytes
            }
            return .entry(facts)
        }
    }

    /// Confinement and credentials for a path that may be a directory (nil: the root itself).
    private func directoryCheck(_ request: FileRequest) -> Result<RootRelativePath?, ListAnswer> {
        if request.decodedPath.split(separator: "/").isEmpty { return .success(nil) }
        let path: RootRelativePath
        switch confine(request) {
        case .success(let checked): path = checked
        case .failure(let refusal): return .failure(.forbidden(refusal.description))
        }
        // A protected directory's own listing needs its credentials, as its files do; through a link, those of
        // the directory it leads to (S5 on what is opened).
        var checked = [path.path]
        for tree in [rootTree, uploadTree] {
            switch tree.locate(path) {
            case .outside: return .failure(.forbidden("a symbolic link leads out of the served tree"))
            case .inside(let target) where target != path.path: checked.append(target)
            case .inside, .missing: break
            }
        }
        for relative in checked {
            switch refusal(request, for: relative + "/") {
            case .forbidden(let reason)?: return .failure(.forbidden(reason))
            case .unauthorized(let realm, _, _)?: return .failure(.forbidden("directory '\(realm)' needs its credentials"))
            case nil: continue
            }
        }
        return .success(path)
    }

    /// An FTP login: anonymous (read only) when enabled, else an `[[ftp.user]]` or `[[directory]]` account, or a
    /// device of the inventory with its own password (its generated files then go out whole). A
    /// failure counts towards slowing down that address (S5); the refusal says how long to wait.
    public func login(username: String, password: String, client: String) -> Result<Login, LoginRefusal> {
        if settings.anonymousLogin, ["anonymous", "ftp"].contains(username.lowercased()) { return .success(.anonymous) }
        let accounts = settings.logins + settings.directories
        if accounts.contains(where: { constantTimeEqual($0.username, username) && constantTimeEqual($0.password, password) })
            || deviceLogin(username: username, password: password) {
            credentials.forgetFailures(client)
            return .success(.account)
        }
        return .failure(LoginRefusal(delay: credentials.failed(client)))
    }

    /// What a login is.
    public enum Login: Sendable {
        /// Read only; its requests carry no credentials.
        case anonymous
        /// Its user name and password go with every request, so a `[[directory]]` account opens its directory.
        case account
    }
}
