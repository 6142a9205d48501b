/// What became of a request, in the words the request log and the metrics keep: one set for every protocol,
/// derived once from the file service's answer, with the few outcomes only a protocol knows (a 304, a bad range,
/// a listing).
public enum RequestResult: String, Sendable, Hashable, CaseIterable {
    /// A file sent whole (or from an offset the client asked for).
    case ok
    /// An upload stored (S4).
    case stored
    /// A directory listing sent (FTP).
    case listed
    /// HTTP 304: the phone's copy is current (S3).
    case notModified = "not-modified"
    /// HTTP 416: a range outside the file.
    case badRange = "bad-range"
    /// The metrics page.
    case metrics
    case notFound = "not-found"
    /// Refused by confinement (S2), a protected directory on a protocol without credentials, or the upload rules.
    case forbidden
    /// Challenged for credentials (S5).
    case unauthorized
    case tooLarge = "too-large"
    /// HTTP 405.
    case badMethod = "bad-method"
    /// Refused for a reason of the protocol itself (a TFTP error other than 1 or 2).
    case refused
    /// Broken off, or not stored.
    case failed

    /// What a read came to.
    public init(_ answer: ReadAnswer) {
        switch answer {
        case .file: self = .ok
        case .notFound: self = .notFound
        case .forbidden: self = .forbidden
        case .unauthorized: self = .unauthorized
        }
    }

    /// What a write came to.
    public init(_ answer: WriteAnswer) {
        switch answer {
        case .created, .replaced: self = .stored
        case .forbidden: self = .forbidden
        case .tooLarge: self = .tooLarge
        case .unauthorized: self = .unauthorized
        case .failed, .unavailable: self = .failed
        }
    }
}
