/// The text of each server's snippet.
extension DHCPSnippet {
    static let className = "autoprov-yealink"

    /// Kea (`kea-dhcp4.conf`): a client class with the option; custom options and option 43 get their definitions.
    var kea: String {
        let test = switch match {
        case .oui: bareOUIs.map { "substring(pkt4.mac, 0, 3) == 0x\($0)" }.joined(separator: " or ")
        case .vendorClass: "substring(option[60].hex, 0, \(vendorClass.utf8.count)) == '\(vendorClass)'"
        }
        // In Kea's CSV form a comma separates fields.
        let data = url.replacingOccurrences(of: ",", with: "\\\\,")
        var globalDefinitions: [String] = []
        var classDefinitions: [String] = []
        var options: [String] = []
        switch option {
        case 66:
            options = [#"{ "name": "tftp-server-name", "data": "\#(data)", "always-send": true }"#]
        case 43:
            switch option43 {
            case .string:
                classDefinitions = [#"{ "name": "vendor-encapsulated-options", "code": 43, "type": "string" }"#]
                options = [#"{ "name": "vendor-encapsulated-options", "data": "\#(data)", "always-send": true }"#]
            case .subOption(let code):
                globalDefinitions = [#"{ "name": "provisioning-url", "code": \#(code), "space": "autoprov", "type": "string" }"#]
                classDefinitions = [#"{ "name": "vendor-encapsulated-options", "code": 43, "type": "empty", "encapsulate": "autoprov" }"#]
                options = [#"{ "name": "vendor-encapsulated-options", "always-send": true }"#,
                           #"{ "name": "provisioning-url", "space": "autoprov", "data": "\#(data)", "always-send": true }"#]
            }
        default:
            globalDefinitions = [#"{ "name": "autoprov-url-\#(option)", "code": \#(option), "type": "string" }"#]
            options = [#"{ "name": "autoprov-url-\#(option)", "data": "\#(data)", "always-send": true }"#]
        }
        var lines = [
            "// autoprov: \(what)",
            "// Merge \"client-classes\"\(globalDefinitions.isEmpty ? "" : " and \"option-def\"") into the Dhcp4 section of "
                + "kea-dhcp4.conf; check with: kea-dhcp4 -t kea-dhcp4.conf",
            "{",
            "  \"Dhcp4\": {",
        ]
        if !globalDefinitions.isEmpty {
            lines += ["    \"option-def\": [", "      " + globalDefinitions.joined(separator: ",\n      "), "    ],"]
        }
        lines += [
            "    \"client-classes\": [",
            "      {",
            "        \"name\": \"\(DHCPSnippet.className)\",",
            "        \"test\": \"\(test)\",",
        ]
        if !classDefinitions.isEmpty {
            lines += ["        \"option-def\": [ " + classDefinitions.joined(separator: ", ") + " ],"]
        }
        lines += [
            "        \"option-data\": [",
            "          " + options.joined(separator: ",\n          "),
            "        ]",
            "      }",
            "    ]",
            "  }",
            "}",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// dnsmasq: a tag set by MAC prefix or vendor class, and the option forced for that tag.
    var dnsmasq: String {
        let tag = DHCPSnippet.className
        var lines = [
            "# autoprov: \(what)",
            "# Put in /etc/dnsmasq.d/autoprov.conf; check with: dnsmasq --test",
        ]
        switch match {
        case .oui:
            lines += ouis.map { "dhcp-mac=set:\(tag),\($0.lowercased()):*:*:*" }
        case .vendorClass:
            lines.append("dhcp-vendorclass=set:\(tag),\(vendorClass)")
        }
        switch option {
        case 43 where option43 != .string:
            lines.append("dhcp-option-force=tag:\(tag),43,\(DHCPSnippet.hex(option43Bytes, separator: ":"))")
        default:
            lines.append("dhcp-option-force=tag:\(tag),\(option),\"\(url)\"")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// ISC dhcpd (`dhcpd.conf`): a class by MAC prefix or vendor class; custom options and sub-options declared.
    var iscDHCPD: String {
        var lines = [
            "# autoprov: \(what)",
            "# Paste at the top level of dhcpd.conf; check with: dhcpd -t -cf /etc/dhcp/dhcpd.conf",
        ]
        var inClass: [String] = []
        switch option {
        case 66:
            inClass = ["option tftp-server-name \"\(url)\";"]
        case 43:
            switch option43 {
            case .string:
                inClass = ["option vendor-encapsulated-options \"\(url)\";"]
            case .subOption(let code):
                lines += ["option space autoprov;", "option autoprov.provisioning-url code \(code) = text;"]
                inClass = ["vendor-option-space autoprov;", "option autoprov.provisioning-url \"\(url)\";"]
            }
        default:
            lines.append("option autoprov-url-\(option) code \(option) = text;")
            inClass = ["option autoprov-url-\(option) \"\(url)\";"]
        }
        let test = switch match {
        case .oui:
            ouis.map { "substring(hardware, 1, 3) = \($0.lowercased())" }.joined(separator: "\n        or ")
        case .vendorClass:
            "substring(option vendor-class-identifier, 0, \(vendorClass.utf8.count)) = \"\(vendorClass)\""
        }
        lines += ["class \"\(DHCPSnippet.className)\" {", "    match if \(test);"] + inClass.map { "    " + $0 } + ["}"]
        return lines.joined(separator: "\n") + "\n"
    }

    /// Windows Server (PowerShell, DhcpServer module): a server-level policy and the option value for it.
    var windows: String {
        let policy = DHCPSnippet.className
        var lines = [
            "# autoprov: \(what)",
            "# Run in PowerShell on the DHCP server (DhcpServer module). Not checked here: no Windows DHCP server runs on Linux.",
        ]
        switch match {
        case .oui:
            lines.append("Add-DhcpServerv4Policy -Name '\(policy)' -Condition OR -MacAddress "
                         + (["EQ"] + bareOUIs.map { "\($0)*" }).joined(separator: ","))
        case .vendorClass:
            lines += [
                "Add-DhcpServerv4Class -Name 'Yealink' -Type Vendor -Data '\(vendorClass)'",
                "Add-DhcpServerv4Policy -Name '\(policy)' -Condition OR -VendorClass EQ,'Yealink*'",
            ]
        }
        switch option {
        case 66:
            lines.append("Set-DhcpServerv4OptionValue -PolicyName '\(policy)' -OptionId 66 -Value '\(url)'")
        case 43:
            let bytes = option43Bytes.map { "0x" + Hex.encode([$0]) }.joined(separator: ",")
            lines.append("Set-DhcpServerv4OptionValue -PolicyName '\(policy)' -OptionId 43 -Value \(bytes)")
        default:
            lines += [
                "Add-DhcpServerv4OptionDefinition -OptionId \(option) -Name 'autoprov URL \(option)' -Type String",
                "Set-DhcpServerv4OptionValue -PolicyName '\(policy)' -OptionId \(option) -Value '\(url)'",
            ]
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
