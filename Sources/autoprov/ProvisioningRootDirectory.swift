import Foundation
import ProvisioningCore

/// A provisioning root on disk, answering the phone's downloads for `resolve` the way the server will:
/// nothing outside the root (S2), a missing file is missing (S1).
struct ProvisioningRootDirectory {
    let root: URL
    let serverRoot: ProvisioningURL

    init(path: String, serverURL: ServerURLTemplate, mac: MACAddress) throws {
        root = URL(fileURLWithPath: path).resolvingSymlinksInPath()
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
        let file = root.appendingPathComponent(checked.path).resolvingSymlinksInPath()
        guard file.path.hasPrefix(root.path.hasSuffix("/") ? root.path : root.path + "/") else {
            return .unreachable("refused by the server: a symbolic link leads outside the root (S2)")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file.path, isDirectory: &isDirectory), !isDirectory.boolValue,
              let data = FileManager.default.contents(atPath: file.path)
        else { return .notFound }
        return .found(Array(data))
    }
}
