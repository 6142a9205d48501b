import Foundation
import ProvisioningCore
import Storage

extension FileService {
    /// Records a signalling event (SIP PnP) whose device is already known, in the request log and the metrics.
    public func recordDevice(protocolName: String, client: String, path: String, result: String, mac: String,
                             model: String?, firmware: String?) {
        metrics.count(protocolName: protocolName, result: result, bytes: 0)
        log?.record(RequestRecord(
            time: Date().timeIntervalSince1970, protocolName: protocolName, client: client, path: path,
            result: result, bytes: 0, duration: 0, mac: mac, model: model, firmware: firmware))
    }

    /// Whether the inventory has the phone, the root has a `<mac>.cfg` or `<mac>.boot`, or the device registry
    /// has seen it.
    public func knows(mac: String) -> Bool {
        if generated?.snapshot.devices[mac] != nil { return true }
        for name in ["\(mac).cfg", "\(mac).boot"] {
            if let path = try? RootRelativePath(name), rootTree.facts(path) != nil { return true }
        }
        return (try? log?.device(mac: mac)) != nil
    }
}
