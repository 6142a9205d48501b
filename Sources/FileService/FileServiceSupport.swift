import NIOCore
import ProvisioningCore
import Storage
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

struct FileIdentity: Hashable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modifiedSeconds: Int
    var modifiedNanoseconds: Int

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modifiedSeconds = info.st_mtim.tv_sec
        modifiedNanoseconds = info.st_mtim.tv_nsec
    }
}

struct RecentKey: Hashable, Sendable {
    var path: String
    var isPercentEncoded: Bool
}

struct RecentAnswer: Sendable {
    var file: ServedFile
    /// The file on disk it came from, and what `stat` said of it.
    var source: String
    var identity: FileIdentity
    var checked: ContinuousClock.Instant
    var generation: Int
}

struct CachedFile {
    var identity: FileIdentity
    var file: ServedFile
    /// The path it was read from: one string that every thread's remembered answer (``RecentAnswer/source``) shares,
    /// not a copy per thread.
    var source: String
}

/// The device a request comes from: MAC, model and firmware from the User-Agent or the file name.
public struct DeviceIdentity {
    /// Fills in a logged request's device (given to the request log, which calls it off the request path).
    @Sendable public static func fill(_ record: inout RequestRecord) {
        let identity = DeviceIdentity(path: record.protocolName.hasPrefix("http")
            ? ProvisioningURL.percentDecoded(record.path) : record.path, userAgent: record.userAgent)
        record.mac = identity.mac
        record.model = identity.model
        record.firmware = identity.firmware
    }

    var mac: String?
    var model: String?
    var firmware: String?

    init(path: String, userAgent: String?) {
        if let userAgent, let agent = DeviceIdentity.agent(userAgent) {
            mac = agent.mac
            model = agent.model
            firmware = agent.firmware
        }
        let name = path.utf8.lastIndex(of: UInt8(ascii: "/")).map { path[path.utf8.index(after: $0)...] } ?? path[...]
        // Cheap checks first: only these names say who is asking.
        if mac == nil, let found = DeviceIdentity.leadingMAC(name) {
            mac = found
        } else if model == nil, name.utf8.count == 17, name.hasPrefix("y0000000"), name.hasSuffix(".cfg") {
            let models = ModelCatalog.models(commonConfigName: String(name))
            if models.count == 1 { model = models[0].name }
        }
    }

    /// What a User-Agent says of the phone (nil: not a Yealink one). A phone sends the same one with each of the
    /// half-dozen requests of a boot, so the last few thousand are kept parsed: a storm parses each phone's once.
    static func agent(_ header: String) -> Agent? {
        if let known = recentAgents.withLock({ $0[header] }) { return known }
        let parsed = (try? UserAgent(header)).map {
            Agent(mac: $0.mac?.canonical, model: $0.model?.name ?? $0.reportedModel, firmware: $0.firmware)
        }
        recentAgents.withLock { agents in
            if agents.count >= 8192 { agents.removeAll(keepingCapacity: true) }
            agents[header] = .some(parsed)  // a header that is no Yealink one is remembered too
        }
        return parsed
    }

    struct Agent: Sendable {
        var mac: String?
        var model: String?
        var firmware: String?
    }

    private static let recentAgents = Mutex<[String: Agent?]>([:])

    /// `<mac>.boot`, `<mac>.cfg`, `<mac>-local.cfg`, `<mac>-contact.xml`: the 12 hex digits in front, lower case.
    static func leadingMAC(_ name: Substring) -> String? {
        let bytes = name.utf8
        guard bytes.count > 12 else { return nil }
        let end = bytes.index(bytes.startIndex, offsetBy: 12)
        guard bytes[..<end].allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        let rest = bytes[end...]
        guard DeviceIdentity.deviceSuffixes.contains(where: { rest.elementsEqual($0.utf8) }) else { return nil }
        return String(name[..<end])
    }

    private static let deviceSuffixes = [".boot", ".cfg", "-local.cfg", "-contact.xml"]
}

/// `*` and `?` patterns on a file name; `$MAC` stands for a phone's MAC as phones write it in file names (12 hex
/// digits, lower case), so `$MAC-local.cfg` takes `00156574b150-local.cfg` and not `evil-local.cfg` (S4).
enum Glob {
    static func matches(pattern: String, name: String) -> Bool {
        matches(Array(pattern)[...], Array(name)[...])
    }

    private static let mac = Array("$MAC")

    private static func matches(_ pattern: ArraySlice<Character>, _ name: ArraySlice<Character>) -> Bool {
        guard let first = pattern.first else { return name.isEmpty }
        if pattern.starts(with: mac) {
            guard name.count >= 12, name.prefix(12).allSatisfy({ $0.isASCII && $0.isHexDigit && !$0.isUppercase }) else { return false }
            return matches(pattern.dropFirst(mac.count), name.dropFirst(12))
        }
        switch first {
        case "*":
            var rest = name
            while true {
                if matches(pattern.dropFirst(), rest) { return true }
                guard !rest.isEmpty else { return false }
                rest = rest.dropFirst()
            }
        case "?":
            return !name.isEmpty && matches(pattern.dropFirst(), name.dropFirst())
        default:
            return name.first == first && matches(pattern.dropFirst(), name.dropFirst())
        }
    }
}
