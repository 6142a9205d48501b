import Foundation

/// Where a template applies, which is also its file in `template import|export`: `defaults.cfg` (every phone),
/// `models/<model>.cfg` (one catalog model), `groups/<group>.cfg`, `devices/<mac>.cfg` (one device's own lines).
public enum TemplateLayer: Sendable, Hashable, Comparable, CustomStringConvertible {
    case defaults
    case model(String)
    case group(String)
    case device(String)

    /// The file, relative to a template folder.
    public var path: String {
        switch self {
        case .defaults: "defaults.cfg"
        case .model(let name): "models/\(name).cfg"
        case .group(let name): "groups/\(name).cfg"
        case .device(let mac): "devices/\(mac).cfg"
        }
    }

    public var description: String { path }

    /// The layer a stored path names (as ``path`` writes it).
    public init?(path: String) {
        if path == "defaults.cfg" { self = .defaults; return }
        // Split by bytes: a character that combines with the '/' before it (an emoji modifier) must not hide it.
        let parts = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard parts.count == 2, parts[1].utf8.count > 4, parts[1].utf8.suffix(4).elementsEqual(".cfg".utf8) else { return nil }
        let name = String(decoding: parts[1].utf8.dropLast(4), as: UTF8.self)
        switch parts[0] {
        case "models": self = .model(name)
        case "groups": self = .group(name)
        case "devices": self = .device(name)
        default: return nil
        }
    }

    /// Layers apply in this order; a later value for a key wins (R4.1). Groups come in each device's own order,
    /// which this order does not know: it sorts them by name only to list them.
    private var rank: Int {
        switch self {
        case .defaults: 0
        case .model: 1
        case .group: 2
        case .device: 3
        }
    }

    public static func < (lhs: TemplateLayer, rhs: TemplateLayer) -> Bool {
        (lhs.rank, lhs.path) < (rhs.rank, rhs.path)
    }
}

/// One saved version of a template; every version is kept.
public struct TemplateVersion: Sendable, Hashable {
    public var layer: TemplateLayer
    /// 1 for the first save, then one more for each save that changed the text.
    public var version: Int
    public var text: String
    /// Seconds since 1970 (UTC).
    public var saved: Double
    /// This version removed the template (its text is empty); a later save brings it back.
    public var removed: Bool

    public init(layer: TemplateLayer, version: Int, text: String, saved: Double, removed: Bool = false) {
        self.layer = layer
        self.version = version
        self.text = text
        self.saved = saved
        self.removed = removed
    }
}
