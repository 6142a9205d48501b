/// A configuration problem, with the file and line when it comes from the file.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
