import Foundation
import Testing

/// A throwaway certificate authority and the certificates it signs (P-256, two days), made with openssl in a
/// folder of the test's: `ca.pem`, and `<name>.pem` with `<name>.key` for each certificate.
struct TestCA {
    let folder: URL

    init(in folder: URL) throws {
        self.folder = folder
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                     "-subj", "/CN=Phone CA", "-keyout", "ca.key", "-out", "ca.pem"])
    }

    var pem: URL { folder.appendingPathComponent("ca.pem") }
    func certificate(_ name: String) -> URL { folder.appendingPathComponent("\(name).pem") }
    func key(_ name: String) -> URL { folder.appendingPathComponent("\(name).key") }

    /// A certificate for `subject` (`/CN=00156574b150`) signed by this CA.
    func issue(_ name: String, subject: String) throws {
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject,
                     "-keyout", "\(name).key", "-out", "\(name).csr"])
        try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                     "-days", "2", "-out", "\(name).pem"])
    }

    /// A certificate for `subject` that no CA signed.
    func selfSigned(_ name: String, subject: String) throws {
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                     "-subj", subject, "-keyout", "\(name).key", "-out", "\(name).pem"])
    }

    private func openssl(_ arguments: [String]) throws {
        let result = try Client.run("openssl", arguments, in: folder)
        #expect(result.status == 0, "\(arguments): \(result.stderr)")
    }
}
