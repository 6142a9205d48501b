@testable import ProvisioningCore
import Testing

@Suite("MACAddress", .timeLimit(.minutes(2)))
struct MACAddressTests {
    @Test("accepted forms give the canonical lower-case name (R2.1)", arguments: [
        "00156574B150", "00156574b150", "00:15:65:74:b1:50", "00-15-65-74-B1-50", "00:15:65:74:B1:50",
    ])
    func acceptedForms(text: String) throws {
        #expect(try MACAddress(text).canonical == "00156574b150")
    }

    @Test("anything else is refused with the text in the message", arguments: [
        "", "0015657", "00156574B1500", "00156574B15G", "00:15:65:74:b1", "00:15-65:74:b1:50",
        "0:15:65:74:b1:50", "00:15:65:74:b1:50:", "001565 74b150", "٠٠156574b150", "00.15.65.74.b1.50",
    ])
    func refused(text: String) {
        #expect(throws: MACAddressError(text: text)) { try MACAddress(text) }
        #expect(MACAddressError(text: text).description.contains("'\(text)'"))
    }

    @Test("OUI and round trip through Codable")
    func ouiAndCodable() throws {
        let mac = try MACAddress("80-5E-C0-D5-7D-72")
        #expect(mac.oui == "80:5e:c0")
        #expect(mac.octets == [0x80, 0x5E, 0xC0, 0xD5, 0x7D, 0x72])
        #expect(MACAddress(octets: mac.octets) == mac)
    }
}
