import ProvisioningCore
import Testing

@Suite("Inventory names and secret variables", .timeLimit(.minutes(2)))
struct InventoryRulesTests {
    @Test("secret variables: shell patterns on the name, any case; the default catches passwords, secrets and PINs")
    func secrets() {
        let secrets = SecretVariables()
        for name in ["sip_password", "PASSWORD", "api_secret", "vm_pin", "Pin_Code"] { #expect(secrets.isSecret(name), "\(name)") }
        for name in ["ext", "label_text", "pass", "line"] { #expect(!secrets.isSecret(name), "\(name)") }
        #expect(secrets.shown("vm_pin", "1234", withSecrets: false) == "********")
        #expect(secrets.shown("vm_pin", "1234", withSecrets: true) == "1234")
        #expect(SecretVariables(patterns: ["token?"]).isSecret("TOKEN1") && !SecretVariables(patterns: ["token?"]).isSecret("token"))
    }

    @Test("variable and group names; built-ins cannot be set; passwords are 16 characters, different each time")
    func names() {
        #expect(InventoryNames.isVariableName("sip_password") && InventoryNames.isVariableName("_x1"))
        #expect(!InventoryNames.isVariableName("1x") && !InventoryNames.isVariableName("a.b") && !InventoryNames.isVariableName(""))
        #expect(!InventoryNames.isVariableName("a-b") && !InventoryNames.isVariableName("{{x}}"))
        #expect(InventoryNames.isGroupName("sales") && InventoryNames.isGroupName("floor-2.east_wing"))
        #expect(!InventoryNames.isGroupName("../x") && !InventoryNames.isGroupName(".hidden") && !InventoryNames.isGroupName("a b"))
        #expect(InventoryNames.builtInVariables.isSuperset(of: ["mac", "MAC", "model", "label", "server_url"]))
        let passwords = Set((0..<50).map { _ in InventoryNames.newPassword() })
        #expect(passwords.count == 50 && passwords.allSatisfy { $0.count == 16 })
    }
}
