@testable import ProvisioningCore
import Testing

@Suite("Addresses and triggers (R8)", .timeLimit(.minutes(2)))
struct ActivationAndTriggerTests {
    @Test("R8.1: Zero Touch, PnP, DHCP custom option, 66, 43, then the phone's flash")
    func addressPriority() {
        var offers: [ServerAddressSource: String] = [
            .phoneFlash: "tftp://flash/", .dhcpOption43: "http://43/", .dhcpOption66: "http://66/",
            .dhcpCustomOption(160): "http://160/", .plugAndPlay: "http://pnp/", .zeroTouch: "https://rps/",
        ]
        var order: [String] = []
        while let chosen = ServerAddressSource.chosen(from: offers) {
            order.append(chosen.url)
            offers[chosen.source] = nil
        }
        #expect(order == ["https://rps/", "http://pnp/", "http://160/", "http://66/", "http://43/", "tftp://flash/"])
    }

    @Test("R8.1: a custom option outside 128-254 and a blank value are not offers")
    func addressOffers() {
        #expect(ServerAddressSource.chosen(from: [.dhcpCustomOption(100): "http://x/", .dhcpOption66: " "]) == nil)
        #expect(ServerAddressSource.chosen(from: [.dhcpCustomOption(254): "http://x/", .dhcpOption66: "http://y/"])?
            .url == "http://x/")
    }

    /// The Guide's example: codes *123 and *456 for directories T23G_1 and T23G_2.
    static let guideCodes = """
        #!version:1.0.0.1
        static.autoprovision.1.code = *123
        static.autoprovision.1.url = http://192.168.1.30/T23G_1/
        static.autoprovision.2.code = *456
        static.autoprovision.2.url = http://192.168.1.30/T23G_2/
        static.autoprovision.2.user = user2
        static.autoprovision.2.password = secret2
        static.autoprovision.2.com_aes = ljB7jiDIQQ7XD888

        """

    @Test("R8.2: the Guide's activation codes parse without problems")
    func guideCodes() {
        let (blocks, problems) = ActivationCodes.parse(ConfigFile(text: Self.guideCodes))
        #expect(problems.isEmpty)
        #expect(blocks.map(\.index) == [1, 2])
        #expect(blocks.map(\.code) == ["*123", "*456"])
        #expect(blocks[1].values["user"]?.value == "user2")
    }

    @Test("R8.2: bad blocks are reported on their lines", arguments: [
        ("static.autoprovision.51.code = *1", "outside 1-50"),
        ("static.autoprovision.0.code = *1", "outside 1-50"),
        ("static.autoprovision.1.code = *12a\nstatic.autoprovision.1.url = http://h/", "1-32 characters"),
        ("static.autoprovision.1.code = " + String(repeating: "1", count: 33) + "\nstatic.autoprovision.1.url = http://h/",
         "1-32 characters"),
        ("static.autoprovision.1.code = *1", "has no static.autoprovision.1.url"),
        ("static.autoprovision.1.code = *1\nstatic.autoprovision.1.url = nowhere", "not a provisioning URL"),
        ("static.autoprovision.1.code = *1\nstatic.autoprovision.1.url = http://h/\nstatic.autoprovision.1.mac_aes = short",
         "16 or 32"),
        ("static.autoprovision.1.code = *1\nstatic.autoprovision.1.url = http://h/\n"
            + "static.autoprovision.2.code = *1\nstatic.autoprovision.2.url = http://h/", "also used by block 1"),
        ("static.autoprovision.1.colour = red", "unknown activation-code field"),
    ])
    func badBlocks(lines: String, message: String) {
        let problems = ActivationCodes.parse(ConfigFile(text: "#!version:1.0.0.1\n" + lines + "\n")).problems
        #expect(problems.contains { $0.message.contains(message) }, "\(problems)")
        #expect(problems.allSatisfy { $0.line >= 2 })
    }

    @Test("R8.2: a code of 32 digits, # and * is valid")
    func longestCode() {
        #expect(ActivationCode.isValidCode(String(repeating: "#*9", count: 10) + "01"))
        #expect(!ActivationCode.isValidCode(""))
    }

    @Test("R8.4: check-sync and sip.notify_reboot_enable", arguments: [
        (nil, false, CheckSyncResponse.provisionAndReboot), (nil, true, .provisionAndReboot),
        ("1", false, .provisionAndReboot), ("0", false, .provision), ("0", true, .provisionAndReboot),
        ("2", true, .ignore), ("2", false, .ignore),
    ] as [(String?, Bool, CheckSyncResponse)])
    func checkSync(setting: String?, reboot: Bool, response: CheckSyncResponse) {
        #expect(CheckSyncResponse.response(notifyRebootEnable: setting, eventRebootTrue: reboot) == response)
    }
}
