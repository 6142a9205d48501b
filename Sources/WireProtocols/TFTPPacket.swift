import NIOCore

/// A TFTP packet (RFC 1350 §5, RFC 2347 OACK).
public enum TFTPPacket: Sendable, Hashable {
    case readRequest(TFTPRequest)
    case writeRequest(TFTPRequest)
    case data(block: UInt16, payload: ByteBuffer)
    case acknowledgement(block: UInt16)
    case error(TFTPError)
    case optionAcknowledgement([(String, String)])

    public static func == (lhs: TFTPPacket, rhs: TFTPPacket) -> Bool {
        switch (lhs, rhs) {
        case (.readRequest(let a), .readRequest(let b)), (.writeRequest(let a), .writeRequest(let b)): a == b
        case (.data(let a, let x), .data(let b, let y)): a == b && x == y
        case (.acknowledgement(let a), .acknowledgement(let b)): a == b
        case (.error(let a), .error(let b)): a == b
        case (.optionAcknowledgement(let a), .optionAcknowledgement(let b)): a.map { [$0.0, $0.1] } == b.map { [$0.0, $0.1] }
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .readRequest(let request): hasher.combine(1); hasher.combine(request)
        case .writeRequest(let request): hasher.combine(2); hasher.combine(request)
        case .data(let block, let payload): hasher.combine(3); hasher.combine(block); hasher.combine(payload)
        case .acknowledgement(let block): hasher.combine(4); hasher.combine(block)
        case .error(let error): hasher.combine(5); hasher.combine(error)
        case .optionAcknowledgement(let options): hasher.combine(6); for (k, v) in options { hasher.combine(k); hasher.combine(v) }
        }
    }

    enum Opcode: UInt16 {
        case readRequest = 1, writeRequest, data, acknowledgement, error, optionAcknowledgement
    }

    /// Parses a datagram; a malformed one throws ``TFTPPacketError`` and is answered with error 4 or dropped.
    public init(parsing buffer: ByteBuffer) throws(TFTPPacketError) {
        var buffer = buffer
        guard let raw = buffer.readInteger(as: UInt16.self) else { throw .truncated }
        guard let opcode = Opcode(rawValue: raw) else { throw .unknownOpcode(raw) }
        switch opcode {
        case .readRequest, .writeRequest:
            let request = try TFTPRequest(parsing: &buffer)
            self = opcode == .readRequest ? .readRequest(request) : .writeRequest(request)
        case .data:
            guard let block = buffer.readInteger(as: UInt16.self) else { throw .truncated }
            self = .data(block: block, payload: buffer.readSlice(length: buffer.readableBytes)!)
        case .acknowledgement:
            guard let block = buffer.readInteger(as: UInt16.self) else { throw .truncated }
            self = .acknowledgement(block: block)
        case .error:
            guard let code = buffer.readInteger(as: UInt16.self) else { throw .truncated }
            let message = TFTPPacket.readString(&buffer) ?? ""
            self = .error(TFTPError(code: TFTPError.Code(rawValue: code) ?? .notDefined, message: message))
        case .optionAcknowledgement:
            var options: [(String, String)] = []
            while buffer.readableBytes > 0 {
                guard let name = TFTPPacket.readString(&buffer), let value = TFTPPacket.readString(&buffer) else {
                    throw .unterminatedString
                }
                options.append((name, value))
            }
            self = .optionAcknowledgement(options)
        }
    }

    /// Parses a datagram's bytes (``init(parsing:)`` over a buffer of them).
    public init(bytes: [UInt8]) throws(TFTPPacketError) {
        try self.init(parsing: ByteBuffer(bytes: bytes))
    }

    /// The packet's wire form.
    public var bytes: [UInt8] {
        var buffer = ByteBuffer()
        write(into: &buffer)
        return Array(buffer.readableBytesView)
    }

    /// Writes the packet's wire form.
    public func write(into buffer: inout ByteBuffer) {
        switch self {
        case .readRequest(let request):
            buffer.writeInteger(Opcode.readRequest.rawValue)
            request.write(into: &buffer)
        case .writeRequest(let request):
            buffer.writeInteger(Opcode.writeRequest.rawValue)
            request.write(into: &buffer)
        case .data(let block, let payload):
            buffer.writeInteger(Opcode.data.rawValue)
            buffer.writeInteger(block)
            buffer.writeImmutableBuffer(payload)
        case .acknowledgement(let block):
            buffer.writeInteger(Opcode.acknowledgement.rawValue)
            buffer.writeInteger(block)
        case .error(let error):
            buffer.writeInteger(Opcode.error.rawValue)
            buffer.writeInteger(error.code.rawValue)
            buffer.writeString(error.message)
            buffer.writeInteger(UInt8(0))
        case .optionAcknowledgement(let options):
            buffer.writeInteger(Opcode.optionAcknowledgement.rawValue)
            for (name, value) in options {
                buffer.writeString(name)
                buffer.writeInteger(UInt8(0))
                buffer.writeString(value)
                buffer.writeInteger(UInt8(0))
            }
        }
    }

    /// A NUL-terminated string; nil (reader index unchanged) when there is no NUL.
    static func readString(_ buffer: inout ByteBuffer) -> String? {
        guard let end = buffer.readableBytesView.firstIndex(of: 0) else { return nil }
        let length = end - buffer.readerIndex
        let text = buffer.readString(length: length)
        buffer.moveReaderIndex(forwardBy: 1)
        return text
    }
}

/// A read or write request (RFC 1350 §5, RFC 2347 options).
public struct TFTPRequest: Sendable, Hashable {
    /// The file name as sent.
    public var filename: String
    /// `octet` or `netascii` (lower-cased); `mail` is refused.
    public var mode: String
    /// Options in the order sent, names lower-cased (RFC 2347: case-insensitive).
    public var options: [TFTPOption]

    public init(filename: String, mode: String, options: [TFTPOption] = []) {
        self.filename = filename
        self.mode = mode
        self.options = options
    }

    /// The longest request accepted: a request is one datagram; RFC 2347 caps it at 512 bytes.
    static let maximumLength = 512

    init(parsing buffer: inout ByteBuffer) throws(TFTPPacketError) {
        guard buffer.readableBytes + 2 <= TFTPRequest.maximumLength else { throw .tooLong }
        guard let filename = TFTPPacket.readString(&buffer), let mode = TFTPPacket.readString(&buffer) else {
            throw .unterminatedString
        }
        guard !filename.isEmpty else { throw .emptyFilename }
        var options: [TFTPOption] = []
        while buffer.readableBytes > 0 {
            guard let name = TFTPPacket.readString(&buffer), let value = TFTPPacket.readString(&buffer) else {
                throw .unterminatedString
            }
            options.append(TFTPOption(name: name.lowercased(), value: value))
        }
        self.init(filename: filename, mode: mode.lowercased(), options: options)
    }

    func write(into buffer: inout ByteBuffer) {
        buffer.writeString(filename)
        buffer.writeInteger(UInt8(0))
        buffer.writeString(mode)
        buffer.writeInteger(UInt8(0))
        for option in options {
            buffer.writeString(option.name)
            buffer.writeInteger(UInt8(0))
            buffer.writeString(option.value)
            buffer.writeInteger(UInt8(0))
        }
    }
}

/// One `name=value` option of a request.
public struct TFTPOption: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// An ERROR packet's code and message (RFC 1350 §5, RFC 2347 code 8).
public struct TFTPError: Error, Sendable, Hashable {
    public enum Code: UInt16, Sendable {
        case notDefined = 0, fileNotFound, accessViolation, diskFull, illegalOperation, unknownTransferID,
             fileExists, noSuchUser, optionNegotiation
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }
}

/// Why a datagram is not a TFTP packet.
public enum TFTPPacketError: Error, Sendable, Hashable {
    case truncated
    case unknownOpcode(UInt16)
    case unterminatedString
    case emptyFilename
    case tooLong
}
