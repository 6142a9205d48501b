@testable import ProvisioningCore
import Testing

@Suite("Model catalog (R7)", .timeLimit(.minutes(2)))
struct ModelCatalogTests {
    /// The Guide's table "Editing Common CFG File", model by model (R7.1).
    static let guideTable: [(String, String)] = [
        ("CP960", "y000000000073.cfg"), ("SIP-T58V", "y000000000058.cfg"), ("SIP-T58A", "y000000000058.cfg"),
        ("SIP-T56A", "y000000000056.cfg"), ("SIP-T54S", "y000000000070.cfg"), ("SIP-T52S", "y000000000074.cfg"),
        ("SIP-T48S", "y000000000065.cfg"), ("SIP-T46S", "y000000000066.cfg"), ("SIP-T42S", "y000000000067.cfg"),
        ("SIP-T41S", "y000000000068.cfg"), ("SIP-T48G", "y000000000035.cfg"), ("SIP-T46G", "y000000000028.cfg"),
        ("SIP-T42G", "y000000000029.cfg"), ("SIP-T41P", "y000000000036.cfg"), ("SIP-T40P", "y000000000054.cfg"),
        ("SIP-T40G", "y000000000076.cfg"), ("SIP-T29G", "y000000000046.cfg"), ("SIP-T27P", "y000000000045.cfg"),
        ("SIP-T27G", "y000000000069.cfg"), ("SIP-T23P", "y000000000044.cfg"), ("SIP-T23G", "y000000000044.cfg"),
        ("SIP-T21(P) E2", "y000000000052.cfg"), ("SIP-T19(P) E2", "y000000000053.cfg"),
        ("CP860", "y000000000037.cfg"), ("CP920", "y000000000078.cfg"), ("W60", "y000000000077.cfg"),
        ("W52P", "y000000000025.cfg"), ("W56P", "y000000000025.cfg"),
    ]

    @Test("R7.1: every model of the Guide's table has its common CFG name, in lower case",
          arguments: guideTable)
    func guideCommonConfigNames(model: String, file: String) throws {
        let found = try #require(ModelCatalog.model(named: model))
        #expect(found.commonConfigName == file)
        #expect(found.inGuide)
    }

    @Test("R7.1: the common CFG name is not always the firmware prefix")
    func notAlwaysFirmwarePrefix() throws {
        let t52s = try #require(ModelCatalog.model(named: "T52S"))
        #expect(t52s.commonConfigName == "y000000000074.cfg")
        #expect(t52s.firmwarePrefixes == [70])
        #expect(try #require(ModelCatalog.model(named: "W60")).commonConfigName == "y000000000077.cfg")
    }

    @Test("R7.1: newer models of yealink-protocols §8.2", arguments: [
        ("T54W", "y000000000096.cfg"), ("T46U", "y000000000108.cfg"), ("T31G", "y000000000123.cfg"),
        ("T33G", "y000000000124.cfg"), ("W90DM", "y000000000130.cfg"), ("VP-T49G", "y000000000051.cfg"),
        ("T53W", "y000000000095.cfg"), ("T58W", "y000000000150.cfg"), ("VP530P", "y000000000023.cfg"),
    ])
    func laterModels(model: String, file: String) throws {
        #expect(try #require(ModelCatalog.model(named: model)).commonConfigName == file)
    }

    @Test("R7.2: account counts", arguments: [
        ("T58V", 16), ("T58A", 16), ("T56A", 16), ("T54S", 16), ("T48G", 16), ("T48S", 16), ("T46G", 16),
        ("T46S", 16), ("T29G", 16), ("T52S", 12), ("T42G", 12), ("T42S", 12), ("W60", 8), ("T41P", 6),
        ("T41S", 6), ("T27P", 6), ("T27G", 6), ("W52P", 5), ("W56P", 5), ("T40P", 3), ("T40G", 3), ("T23P", 3),
        ("T23G", 3), ("T21P E2", 2), ("CP960", 1), ("CP920", 1), ("CP860", 1), ("T19P E2", 1),
    ])
    func accounts(model: String, count: Int) throws {
        #expect(try #require(ModelCatalog.model(named: model)).accounts == count)
    }

    @Test("R7.3: the spellings of the Guide and of phones", arguments: [
        ("SIP-T46G", "T46G"), ("T46G", "T46G"), ("t46g", "T46G"), ("T19P_E2", "T19P E2"), ("T19(P) E2", "T19P E2"),
        ("T19 E2", "T19P E2"), ("T21P E2", "T21P E2"), ("SIP-T21P_E2", "T21P E2"), ("VP-T49G", "T49G"),
        ("SIP VP-T49G", "T49G"), ("W52P", "W52P"), ("CP960", "CP960"), ("Yealink SIP-T46G", "T46G"),
        ("W60B", "W60"),
    ])
    func spellings(text: String, name: String) throws {
        #expect(try #require(ModelCatalog.model(named: text)).name == name)
    }

    @Test("R7.3: models that are not the same are not confused", arguments: [
        ("T21P", "y000000000034.cfg"), ("T21P E2", "y000000000052.cfg"), ("T19P", "y000000000031.cfg"),
        ("T19P_E2", "y000000000053.cfg"), ("T58", "y000000000058.cfg"), ("T58W", "y000000000150.cfg"),
    ])
    func distinct(text: String, file: String) throws {
        #expect(try #require(ModelCatalog.model(named: text)).commonConfigName == file)
    }

    @Test("unknown names are refused with the list of known models", arguments: ["T99X", "", "SIP-", "Polycom"])
    func unknown(text: String) {
        #expect(ModelCatalog.model(named: text) == nil)
        #expect(throws: UnknownModelError(name: text)) { try ModelCatalog.requireModel(named: text) }
    }

    @Test("R3.6: the default $PN is the model's name")
    func defaultProductName() throws {
        #expect(try #require(ModelCatalog.model(named: "SIP-T42G")).defaultProductName == "T42G")
        #expect(try #require(ModelCatalog.model(named: "T19(P) E2")).defaultProductName == "T19P_E2")
    }
}
