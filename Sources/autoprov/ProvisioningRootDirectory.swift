import FileService
import Foundation
import ProvisioningCore
import ProvisioningServer

/// A provisioning root on disk, answering the phone's downloads for `resolve` the way the server will:
/// nothing outside the root (S2), a missing file is missing (S1).
struct ProvisioningRootDirectory {
    let tree: ConfinedTree
    let serverRoot: ProvisioningURL
    /// Encrypted files are read with these keys (or the `_Security.enc` beside them), as the phone would.
    let keys: FileKeys

    init(path: String, serverURL: ServerURLTemplate, mac: MACAddress, keys: FileKeys = FileKeys()) throws {
        tree = ConfinedTree(directory: URL(fileURLWithPath: path))
        self.keys = keys
        let expanded = serverURL.expanded(productName: "PN", mac: mac)
        do {
            serverRoot = try ProvisioningURL(expanded).resolving("/")
        } catch {
            throw UsageFailure("\(error)")
        }
    }

    func fetch(_ url: ProvisioningURL) -> FetchResult {
        guard let relative = url.path(relativeTo: serverRoot) else {
            return .unreachable("on another server; resolve reads only --root")
        }
        let checked: RootRelativePath
        do { checked = try RootRelativePath(relative) } catch {
            return .unreachable("refused by the server: \(error.description) (S2)")
        }
        switch tree.read(checked) {
        case .file(let data):
            do {
                return .found(try keys.plaintext(Array(data), file: URL(fileURLWithPath: tree.path(of: checked))))
            } catch {
                return .unreachable("\(error)")
            }
        case .missing: return .notFound
        case .outside: return .unreachable("refused by the server: a symbolic link leads outside the root (S2)")
        }
    }
}
