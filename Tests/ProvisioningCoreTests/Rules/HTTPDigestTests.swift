import ProvisioningCore
import Testing

/// HTTP Digest (RFC 7616) in one place: the server's check and `notify`'s answer share the parser and the response.
@Suite("Digest answers for autoprov notify (RFC 7616 §3.9.1)", .timeLimit(.minutes(2)))
struct DigestChallengeTests {
    static let challenge = "realm=\"http-auth@example.org\", qop=\"auth, auth-int\", "
        + "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""

    @Test("the RFC's example responses, SHA-256 and MD5", arguments: [
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ])
    func example(algorithm: String, response: String) throws {
        let challenge = try #require(DigestChallenge("Digest \(Self.challenge), algorithm=\(algorithm)"))
        #expect(challenge.qop == "auth")
        let header = challenge.authorization(method: "GET", uri: "/dir/index.html", username: "Mufasa",
                                             password: "Circle of Life",
                                             clientNonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
        #expect(header.contains("response=\"\(response)\""), "\(header)")
        #expect(header.contains("opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""))
        #expect(header.contains("nc=00000001"))
        // What autoprov's own HTTP Digest check accepts, it also produces.
        let parsed = try #require(DigestResponse(header: String(header.dropFirst(7)), method: "GET"))
        #expect(parsed.response == response)
    }

    @Test("parameters: quoted values keep their commas and lose their escapes; names are lower-cased")
    func parameters() {
        let values = HTTPDigest.parameters(#"Realm="a, b", nonce="x\"y", qop=auth, nc=00000001,  uri="/a?b=c""#)
        #expect(values == ["realm": "a, b", "nonce": "x\"y", "qop": "auth", "nc": "00000001", "uri": "/a?b=c"])
        #expect(HTTPDigest.response(algorithm: "SHA-512-256", username: "u", realm: "r", password: "p", method: "GET",
                                    uri: "/", nonce: "n", qop: nil, nonceCount: nil, clientNonce: nil) == nil)
        #expect(HTTPDigest.response(algorithm: "MD5", username: "u", realm: "r", password: "p", method: "GET",
                                    uri: "/", nonce: "n", qop: "auth-int", nonceCount: "1", clientNonce: "c") == nil)
    }

    @Test("not Digest, or without realm and nonce: no challenge to answer")
    func refused() {
        #expect(DigestChallenge("Basic realm=\"x\"") == nil)
        #expect(DigestChallenge("Digest realm=\"x\"") == nil)
        #expect(DigestChallenge("Digest nonce=\"n\", realm=\"r\"")?.algorithm == "MD5")
    }
}
