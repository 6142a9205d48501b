@testable import ProvisioningCore
import Testing

@Suite("UserAgent (yealink-protocols §4.1)", .timeLimit(.minutes(2)))
struct UserAgentTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let header: String
        let model: String
        let firmware: String?
        let mac: String?
        var testDescription: String { header }
    }

    static let cases: [Case] = [
        Case(header: "Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37", model: "T46G", firmware: "28.72.0.1",
             mac: "0015654aa937"),
        Case(header: "yealink SIP-T28P 2.70.0.140 00:15:65:13:ae:0b", model: "T28P", firmware: "2.70.0.140",
             mac: "00156513ae0b"),
        Case(header: "Yealink SIP-T38G  38.70.0.125 00:15:65:2f:c3:5e", model: "T38G", firmware: "38.70.0.125",
             mac: "0015652fc35e"),
        Case(header: "Yealink SIP-T19P_E2 53.80.0.3 00:15:65:4c:4c:26", model: "T19P E2", firmware: "53.80.0.3",
             mac: "0015654c4c26"),
        Case(header: "Yealink SIP VP-T49G 51.80.0.10 00:15:65:9b:5a:44", model: "T49G", firmware: "51.80.0.10",
             mac: "0015659b5a44"),
        Case(header: "Yealink CP860 37.72.0.5 00:15:65:8a:37:86", model: "CP860", firmware: "37.72.0.5",
             mac: "0015658a3786"),
        Case(header: "Yealink W52P 25.80.0.15 00:15:65:b8:60:05", model: "W52P", firmware: "25.80.0.15",
             mac: "001565b86005"),
        Case(header: "W52P 25.30.0.2 00:15:65:44:b3:7c", model: "W52P", firmware: "25.30.0.2", mac: "00156544b37c"),
        Case(header: "VP530P 23.70.0.40 00:15:65:31:4b:c0", model: "VP530", firmware: "23.70.0.40",
             mac: "001565314bc0"),
        Case(header: "Yealink-T46G 28.71.0.81 28.1.0.128.0.0.0", model: "T46G", firmware: "28.71.0.81", mac: nil),
        Case(header: "Yealink SIP-T31G 124.85.257.55 80:5e:c0:d5:7d:72", model: "T31G", firmware: "124.85.257.55",
             mac: "805ec0d57d72"),
        Case(header: "Yealink SIP-T34W 124.86.0.75 24:9a:d8:88:d0:f4", model: "T34W", firmware: "124.86.0.75",
             mac: "249ad888d0f4"),
        Case(header: "Yealink SIP-T23G 44.80.0.60", model: "T23G", firmware: "44.80.0.60", mac: nil),
        Case(header: "Yealink SIP-T46G", model: "T46G", firmware: nil, mac: nil),
        Case(header: "Yealink W60B 77.81.0.25 00:15:65:aa:bb:cc", model: "W60", firmware: "77.81.0.25",
             mac: "001565aabbcc"),
    ]

    @Test("real User-Agents give model, firmware and MAC", arguments: cases)
    func parses(testCase: Case) throws {
        let agent = try UserAgent(testCase.header)
        #expect(agent.model?.name == testCase.model)
        #expect(agent.firmware == testCase.firmware)
        #expect(agent.mac?.canonical == testCase.mac)
    }

    @Test("the old form keeps its hardware version")
    func hardwareVersion() throws {
        #expect(try UserAgent("Yealink-T46G 28.71.0.81 28.1.0.128.0.0.0").hardwareVersion == "28.1.0.128.0.0.0")
    }

    @Test("an unknown Yealink model is kept as reported")
    func unknownYealinkModel() throws {
        let agent = try UserAgent("Yealink SIP-T99Z 199.90.0.1 00:15:65:00:00:01")
        #expect(agent.model == nil)
        #expect(agent.reportedModel == "T99Z")
    }

    @Test("other User-Agents are refused", arguments: [
        "", "curl/8.5.0", "Mozilla/5.0 (X11; Linux x86_64)", "Polycom SoundPoint 4.0.1.1", "Wget/1.21.3",
    ])
    func refused(header: String) {
        #expect(throws: UserAgentError(header: header)) { try UserAgent(header) }
    }
}
