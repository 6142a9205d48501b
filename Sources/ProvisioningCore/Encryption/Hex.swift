/// Lower-case hexadecimal, two digits a byte: MAC addresses (R2.1), MD5 sums (R4.4, S3 ETags), digests.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// The bytes as hex digits, with `separator` between bytes.
    public static func encode(_ bytes: some Sequence<UInt8>, separator: String = "") -> String {
        var text = ""
        for byte in bytes {
            if !text.isEmpty { text += separator }
            text.unicodeScalars.append(Unicode.Scalar(digits[Int(byte >> 4)]))
            text.unicodeScalars.append(Unicode.Scalar(digits[Int(byte & 0x0F)]))
        }
        return text
    }
}

extension Duration {
    /// The duration in seconds, for logs and records.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
