import FileService
import Foundation
import Inventory
import ProvisioningCore

/// A provisioning root on disk, answering the phone's downloads for `resolve` the way the server will:
/// nothing outside the root (S2), a missing file is missing (S1).
public struct ProvisioningRootDirectory: Sendable {
    /// The root on disk; nil when only generated files are served.
    public let tree: ConfinedTree?
    public let serverRoot: ProvisioningURL
    /// Encrypted files are read with these keys (or the `_Security.enc` beside them), as the phone would.
    public let keys: FileKeys
    /// The file templates generate under a top-level name, which wins over the root's (as `serve` answers).
    public let generated: @Sendable (String) -> GeneratedFile?

    public init(path: String?, serverURL: ServerURLTemplate, mac: MACAddress, keys: FileKeys = FileKeys(),
                generated: @escaping @Sendable (String) -> GeneratedFile? = { _ in nil }) throws {
        tree = path.map { ConfinedTree(directory: URL(fileURLWithPath: $0)) }
        self.keys = keys
        self.generated = generated
        let expanded = serverURL.expanded(productName: "PN", mac: mac)
        do {
            serverRoot = try ProvisioningURL(expanded).resolving("/")
        } catch {
            throw ResolveError("\(error)")
        }
    }

    public func fetch(_ url: ProvisioningURL) -> FetchResult {
        guard let relative = url.path(relativeTo: serverRoot) else {
            return .unreachable("on another server; resolve reads only --root")
        }
        let checked: RootRelativePath
        do { checked = try RootRelativePath(relative) } catch {
            return .unreachable("refused by the server: \(error.description) (S2)")
        }
        if !checked.path.contains("/"), let file = generated(checked.path) { return .found(file.bytes) }
        guard let tree else { return .notFound }
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
