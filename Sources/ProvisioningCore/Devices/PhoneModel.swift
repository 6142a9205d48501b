/// A Yealink phone model as the provisioning rules see it (R7).
public struct PhoneModel: Sendable, Hashable {
    /// The model's name without the `SIP-` prefix, e.g. `T46G`, `T19P E2`, `W60`.
    public let name: String
    /// Other names the same model goes by (`T19 E2`, `W60B`, `VP530P`), matched like ``name``.
    public let otherNames: [String]
    /// The number in the common CFG file name (`28` for `y000000000028.cfg`, R7.1).
    public let commonConfigNumber: Int
    /// How many SIP accounts the model has (R7.2), or nil where no source says.
    public let accounts: Int?
    /// The first field of the model's firmware versions (`28` in `28.81.0.110`); several where it changed.
    public let firmwarePrefixes: [Int]
    /// The default of `static.auto_provision.url_wildcard.pn`, which replaces `$PN` (R3.6).
    public let defaultProductName: String
    /// Whether the model is in the Guide's own common-CFG table (otherwise it comes from later research).
    public let inGuide: Bool

    /// The common CFG file the phone requests, always lower case (R7.1): `y000000000028.cfg`.
    public var commonConfigName: String {
        let digits = String(commonConfigNumber)
        return "y" + String(repeating: "0", count: 12 - digits.count) + digits + ".cfg"
    }

    /// Every name of the model, ``name`` first.
    public var allNames: [String] { [name] + otherNames }
}

extension PhoneModel: CustomStringConvertible {
    public var description: String { name }
}

extension PhoneModel {
    /// The key names are compared by: upper case, no vendor, no `SIP-`/`VP-` prefix, letters and digits only.
    ///
    /// So `SIP-T46G`, `t46g`, `T19P_E2`, `T19(P) E2`, `VP-T49G` and `Yealink SIP-T21P E2` all find their model (R7.3).
    static func lookupKey(_ text: some StringProtocol) -> String {
        var name = text.uppercased()[...]
        for prefix in ["YEALINK", " ", "-", "SIP", " ", "-", "VP-", "VP "] where name.hasPrefix(prefix) {
            name = name.dropFirst(prefix.count)
        }
        return String(name.filter { $0.isASCII && ($0.isLetter || $0.isNumber) })
    }
}
