import Inventory
import ProvisioningCore
import Storage

/// Whether a request comes from the device a generated file belongs to (`[inventory] secrets = "device"`).
enum DeviceAuthentication: Equatable {
    /// Its own device: the file goes out whole.
    case owner
    /// Anyone else, another device's credentials included: the file goes out with its secret lines left out.
    case other
    /// A request that may still prove it is the device (HTTP without credentials, or a wrong password for that
    /// device): 401, so that a phone with its credentials sends them.
    case challenge(delay: Duration, stale: Bool)
}

extension FileService {
    /// The realm of the devices' own credentials (HTTP Digest and Basic).
    public static let deviceRealm = "autoprov-devices"

    /// Who asks for a generated file. `owner` is the device a `<mac>.cfg` belongs to; nil for a common file, which
    /// any device of the inventory may have whole. A device proves itself with a client certificate whose subject
    /// names its MAC (HTTPS with `client_ca`), or with its own user name (its MAC) and password: HTTP Digest or
    /// Basic, or the FTP login.
    func deviceAuthentication(_ request: FileRequest, owner: String?, devices: [String: InventoryDevice])
        -> DeviceAuthentication {
        let belongs = { (mac: String) in owner.map { $0 == mac } ?? (devices[mac].map { $0.state == .active } ?? false) }
        let certified = request.certificateSubject.map(FileService.macs(in:)) ?? []
        if certified.contains(where: belongs) { return .owner }
        let username: String
        switch request.credentials {
        case .password(let name, _)?: username = name
        case .digest(let digest)?: username = digest.username
        case nil:
            // HTTP asks; TFTP cannot answer and an FTP session without a login has none to give.
            // A certificate that names another device has said who is asking.
            let asks = request.fileProtocol.carriesCredentials && !request.fileProtocol.checksCredentialsAtLogin
                && !certified.contains(where: { devices[$0] != nil })
            return asks ? .challenge(delay: .zero, stale: false) : .other
        }
        guard let mac = try? MACAddress(username).canonical, belongs(mac), let device = devices[mac],
              device.state != .disabled
        else { return .other }
        let account = DirectoryAccount(path: FileService.deviceRealm, username: username, password: device.password)
        switch credentials.check(request, for: account) {
        case .granted: return .owner
        case .refused: return .other
        case .challenge(let delay, let stale): return .challenge(delay: delay, stale: stale)
        }
    }

    /// The MACs a certificate subject names: runs of exactly 12 hex digits once `:` and `-` are taken out.
    static func macs(in subject: String) -> [String] {
        var found: [String] = []
        var run = ""
        for character in subject.lowercased().filter({ $0 != ":" && $0 != "-" }) + " " {
            if character.isHexDigit {
                run.append(character)
            } else {
                if run.count == 12 { found.append(run) }
                run = ""
            }
        }
        return found
    }

    /// The device a login's user name names, when its password is that device's own (an FTP login).
    func deviceLogin(username: String, password: String) -> Bool {
        guard let generated, let mac = try? MACAddress(username).canonical,
              let device = generated.snapshot.devices[mac], device.state != .disabled
        else { return false }
        return constantTimeEqual(device.password, password)
    }
}
