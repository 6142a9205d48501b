import Foundation
import ProvisioningCore
import ProvisioningServer

/// A provisioning root on disk, answering the phone's downloads for `resolve` the way the server will:
/// nothing outside the root (S2), a missing file is missing (S1).
struct ProvisioningRootDirectory {
    let tree: ConfinedTree
    let serverRoot: ProvisioningURL

    init(path: String, serverURL: ServerURLTemplate, mac: MACAddress) throws {
        tree = ConfinedTree(directory: URL(fileURLWithPath: path))
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
        case .file(let data): return .found(Array(data))
        case .missing: return .notFound
        case .outside: return .unreachable("refused by the server: a symbolic link leads outside the root (S2)")
        }
    }
}
