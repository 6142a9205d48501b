import Foundation
@testable import FTP
import Testing
import WireProtocols

@Suite("FTP commands, replies and paths (RFC 959, 2428, 3659)", .timeLimit(.minutes(2)))
struct FTPCommandTests {
    @Test("a command line: verb upper-cased, the argument kept as it is (spaces included)")
    func parse() {
        #expect(FTPCommand(line: "retr my file.cfg\r") == FTPCommand(verb: "RETR", argument: "my file.cfg"))
        #expect(FTPCommand(line: "PWD") == FTPCommand(verb: "PWD", argument: ""))
        #expect(FTPCommand(line: "") == nil)
        #expect(FTPCommand(line: "GARBAGE x") == nil)
        #expect(FTPCommand(line: "\u{0}\u{1}") == nil)
    }

    @Test("RFC 959 §4.1.3: Telnet IP and Synch before a command are dropped; ABOR is recognized behind them")
    func telnetSignals() {
        #expect(FTPCommand.text(of: [0xFF, 0xF4, 0xFF, 0xF2] + Array("ABOR".utf8)) == "ABOR")
        // The Synch's DM byte often travels as urgent data, leaving a lone IAC in the stream.
        #expect(FTPCommand.isAbort([0xFF, 0xF4, 0xFF] + Array("abor".utf8)))
        #expect(FTPCommand.text(of: Array("RETR \u{FF}x".utf8)) == "RETR \u{FF}x")
        #expect(!FTPCommand.isAbort(Array("ABORT".utf8)))
        #expect(!FTPCommand.isAbort(Array("NOOP".utf8)))
    }

    @Test("replies: one line, or the RFC 959 multi-line form; no CR or LF from a name reaches the wire")
    func replies() {
        #expect(FTPReply(226, "Transfer complete").wire == "226 Transfer complete\r\n")
        #expect(FTPReply(211, "Features:\nSIZE\nEnd").wire == "211-Features:\r\n SIZE\r\n211 End\r\n")
        #expect(FTPReply(550, "a\rb").wire == "550 ab\r\n")
    }

    @Test("paths resolve against the working directory and never climb above the root", arguments: [
        ("a.cfg", "/", "/a.cfg"), ("a.cfg", "/T23G", "/T23G/a.cfg"), ("/x/y", "/T23G", "/x/y"),
        ("..", "/T23G", "/"), ("../../../etc/passwd", "/T23G", "/etc/passwd"), ("./a/./b/../c", "/", "/a/c"),
        ("//a///b", "/", "/a/b"), ("", "/T23G", "/T23G"), ("..", "/", "/"),
    ])
    func paths(_ argument: String, _ current: String, _ expected: String) {
        #expect(FTPPath.resolve(argument, from: current) == expected)
    }

    @Test("PORT and EPRT arguments; PASV formatting")
    func hostPorts() {
        #expect(FTPHostPort.parsePORT("127,0,0,1,195,80")! == ("127.0.0.1", 50000))
        #expect(FTPHostPort.parsePORT("127,0,0,1,300,1") == nil)
        #expect(FTPHostPort.parsePORT("1,2,3") == nil)
        #expect(FTPHostPort.parseEPRT("|1|10.0.0.1|6446|")! == ("10.0.0.1", 6446))
        #expect(FTPHostPort.parseEPRT("|2|::1|6446|")! == ("::1", 6446))
        #expect(FTPHostPort.parseEPRT("|3|x|1|") == nil)
        #expect(FTPHostPort.parseEPRT("|1|10.0.0.1|0|") == nil)
        #expect(FTPHostPort.formatPASV(host: "192.0.2.10", port: 50001) == "192,0,2,10,195,81")
    }

    @Test("listing lines: ls -l for LIST, RFC 3659 facts for MLSD")
    func listing() {
        let modified = Date(timeIntervalSince1970: 1_790_000_000)  // 2026-09-21 14:13:20 UTC
        let file = FTPEntry(name: "0015651234ab.cfg", isDirectory: false, size: 1234, modified: modified)
        #expect(file.machineLine() == "type=file;size=1234;modify=20260921141320; 0015651234ab.cfg")
        #expect(file.listLine(now: modified) == "-rw-r--r-- 1 ftp ftp         1234 Sep 21 14:13 0015651234ab.cfg")
        let old = file.listLine(now: modified.addingTimeInterval(365 * 86400))
        #expect(old.hasSuffix("Sep 21  2026 0015651234ab.cfg"))
        let directory = FTPEntry(name: "T23G_1", isDirectory: true, size: 0, modified: modified)
        #expect(directory.machineLine() == "type=dir;modify=20260921141320; T23G_1")
    }

    @Test("TYPE A turns LF into CRLF on the way out and back")
    func asciiMode() {
        let out = FTPSessionState.toNetworkLines(.init(string: "a\nb\r\nc"))
        #expect(String(buffer: out) == "a\r\nb\r\nc")
        #expect(String(buffer: FTPSessionState.fromNetworkLines(out)) == "a\nb\nc")
    }
}
