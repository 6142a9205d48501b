import ProvisioningCore
import Testing

@Suite("CSV (RFC 4180) with line numbers", .timeLimit(.minutes(2)))
struct CSVTableTests {
    @Test("quoted fields with commas, doubled quotes and line breaks; CRLF or LF; a BOM; blank lines skipped")
    func parse() throws {
        let text = "\u{FEFF}mac,label,note\r\n001565000001,\"Desk, 2nd floor\",\"say \"\"hi\"\"\"\r\n\r\n"
            + "001565000002,\"two\nlines\",\n001565000003,,\"\"\n"
        let table = try CSVTable(parsing: text)
        #expect(table.rows.map(\.line) == [1, 2, 4, 6])
        #expect(table.rows[0].fields == ["mac", "label", "note"])
        #expect(table.rows[1].fields == ["001565000001", "Desk, 2nd floor", "say \"hi\""])
        #expect(table.rows[2].fields == ["001565000002", "two\nlines", ""])
        #expect(table.rows[3].fields == ["001565000003", "", ""])
        // What CSVTable writes, it reads back.
        let rows = [["a", "b,c", "d\"e"], ["x\r\ny", "", "z"]]
        #expect(try CSVTable(parsing: CSVTable.text(rows)).rows.map(\.fields) == rows)
        #expect(try CSVTable(parsing: "a,b").rows.map(\.fields) == [["a", "b"]])
    }

    @Test("malformed quoting is refused with its line", arguments: [
        ("a,b\nc,\"open\n", 2, "not closed"), ("a,b\nc\"d,e\n", 2, "quote inside an unquoted field"),
        ("a\n\"x\"y,z\n", 2, "text after a closing quote"),
    ])
    func errors(text: String, line: Int, message: String) {
        do {
            _ = try CSVTable(parsing: text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.line == line && error.message.contains(message), "\(error)")
        }
    }
}
