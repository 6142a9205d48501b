/// Every Yealink model autoprov knows: the Guide's common-CFG table (R7.1, R7.2) and the newer models of
/// `yealink-protocols.md` §8.2 whose common CFG file is known.
public enum ModelCatalog {
    /// All models, the Guide's first.
    public static let all: [PhoneModel] = guideModels + laterModels

    /// Finds a model by any spelling of R7.3 (`SIP-T46G`, `T46G`, `T19P_E2`, `T19(P) E2`, `VP-T49G`, `W52P`).
    public static func model(named text: some StringProtocol) -> PhoneModel? {
        let key = PhoneModel.lookupKey(text)
        guard !key.isEmpty else { return nil }
        return byKey[key]
    }

    /// Finds a model by any spelling, or throws ``UnknownModelError``.
    public static func requireModel(named text: String) throws(UnknownModelError) -> PhoneModel {
        guard let model = model(named: text) else { throw UnknownModelError(name: text) }
        return model
    }

    /// The models whose common CFG file has this name (`y000000000025.cfg` is shared by W52P and W56P).
    public static func models(commonConfigName name: String) -> [PhoneModel] {
        byCommonConfigName[name] ?? []
    }

    private static let byCommonConfigName: [String: [PhoneModel]] = Dictionary(grouping: all, by: \.commonConfigName)

    private static let byKey: [String: PhoneModel] = {
        var table: [String: PhoneModel] = [:]
        for model in all {
            for name in model.allNames {
                let key = PhoneModel.lookupKey(name)
                precondition(table[key] == nil, "two models answer to \(name)")
                table[key] = model
            }
        }
        return table
    }()

    private static func guide(
        _ name: String, _ number: Int, accounts: Int, firmware: [Int], also: [String] = [], pn: String? = nil
    ) -> PhoneModel {
        PhoneModel(
            name: name, otherNames: also, commonConfigNumber: number, accounts: accounts,
            firmwarePrefixes: firmware, defaultProductName: pn ?? name, inGuide: true)
    }

    private static func later(
        _ name: String, _ number: Int, firmware: [Int], also: [String] = [], pn: String? = nil
    ) -> PhoneModel {
        PhoneModel(
            name: name, otherNames: also, commonConfigNumber: number, accounts: nil,
            firmwarePrefixes: firmware, defaultProductName: pn ?? name, inGuide: false)
    }

    /// The Guide's table "Editing Common CFG File" with the account counts of "Editing MAC-Oriented CFG File".
    static let guideModels: [PhoneModel] = [
        guide("CP960", 73, accounts: 1, firmware: [73]),
        guide("T58V", 58, accounts: 16, firmware: [58], also: ["T58"]),
        guide("T58A", 58, accounts: 16, firmware: [58]),
        guide("T56A", 56, accounts: 16, firmware: [58]),
        guide("T54S", 70, accounts: 16, firmware: [70]),
        guide("T52S", 74, accounts: 12, firmware: [70]),
        guide("T48S", 65, accounts: 16, firmware: [65, 66]),
        guide("T46S", 66, accounts: 16, firmware: [66]),
        guide("T42S", 67, accounts: 12, firmware: [67, 66]),
        guide("T41S", 68, accounts: 6, firmware: [68, 66]),
        guide("T48G", 35, accounts: 16, firmware: [35]),
        guide("T46G", 28, accounts: 16, firmware: [28]),
        guide("T42G", 29, accounts: 12, firmware: [29]),
        guide("T41P", 36, accounts: 6, firmware: [36]),
        guide("T40P", 54, accounts: 3, firmware: [54]),
        guide("T40G", 76, accounts: 3, firmware: [76]),
        guide("T29G", 46, accounts: 16, firmware: [46]),
        guide("T27P", 45, accounts: 6, firmware: [45]),
        guide("T27G", 69, accounts: 6, firmware: [69]),
        guide("T23P", 44, accounts: 3, firmware: [44]),
        guide("T23G", 44, accounts: 3, firmware: [44]),
        guide("T21P E2", 52, accounts: 2, firmware: [52], also: ["T21 E2"], pn: "T21P_E2"),
        guide("T19P E2", 53, accounts: 1, firmware: [53], also: ["T19 E2"], pn: "T19P_E2"),
        guide("CP860", 37, accounts: 1, firmware: [37]),
        guide("CP920", 78, accounts: 1, firmware: [78]),
        guide("W60", 77, accounts: 8, firmware: [77], also: ["W60B", "W60P"], pn: "W60B"),
        guide("W52P", 25, accounts: 5, firmware: [25]),
        guide("W56P", 25, accounts: 5, firmware: [25]),
    ]

    /// `yealink-protocols.md` §8.2: models with a known common CFG file that the Guide does not list.
    static let laterModels: [PhoneModel] = [
        later("T28P", 0, firmware: [2]),
        later("T26P", 4, firmware: [6]),
        later("T22P", 5, firmware: [7]),
        later("T20P", 7, firmware: [9]),
        later("T18", 9, firmware: []),
        later("VP530", 23, firmware: [23], also: ["VP530P"]),
        later("T19P", 31, firmware: [31]),
        later("T32G", 32, firmware: [32]),
        later("T21P", 34, firmware: [34]),
        later("T38G", 38, firmware: [38]),
        later("T49G", 51, firmware: [51]),
        later("T53", 95, firmware: [95, 96], also: ["T53W", "T53C"]),
        later("T54W", 96, firmware: [96]),
        later("T57W", 97, firmware: [97, 96]),
        later("W80B", 103, firmware: [103], also: ["W80DM"]),
        later("T43U", 107, firmware: [108]),
        later("T46U", 108, firmware: [108]),
        later("T48U", 109, firmware: [108]),
        later("T42U", 116, firmware: [108]),
        later("T31G", 123, firmware: [124], also: ["T31", "T31P"]),
        later("T33G", 124, firmware: [124], also: ["T33P"]),
        later("T30P", 127, firmware: [124], also: ["T30"]),
        later("T34W", 171, firmware: [124]),
        later("T31W", 172, firmware: []),
        later("W90B", 130, firmware: [130], also: ["W90DM"]),
        later("W70B", 146, firmware: [146]),
        later("CP925", 148, firmware: [148]),
        later("T58W", 150, firmware: [150]),
        later("VP59", 91, firmware: [], also: ["VP-T59"]),
    ]
}

/// A model name that is in no table autoprov knows.
public struct UnknownModelError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The name as given.
    public let name: String

    public init(name: String) {
        self.name = name
    }

    public var description: String {
        "unknown phone model '\(name)' (known: " + ModelCatalog.all.map(\.name).joined(separator: ", ") + ")"
    }
}
