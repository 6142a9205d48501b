import Foundation
import NIOCore
import PostgresNIO

/// One column of a batch bound as a PostgreSQL array (`text[]`, `float8[]` or `int8[]`, binary format, NULLs as
/// NULL), written into the message straight from the batch's records: no array of values is built first. The
/// request log's batches are thousands of rows a second; building eleven Swift arrays of them (each string retained
/// and released) cost the node more than PostgreSQL spent storing them.
struct ColumnArray: PostgresDynamicTypeEncodable {
    enum Values {
        case text((Int) -> String?)
        case double((Int) -> Double)
        case int64((Int) -> Int64)
    }

    let count: Int
    let values: Values

    init(count: Int, _ values: Values) {
        self.count = count
        self.values = values
    }

    var psqlType: PostgresDataType {
        switch values {
        case .text: .textArray
        case .double: .float8Array
        case .int64: .int8Array
        }
    }

    var psqlFormat: PostgresFormat { .binary }

    /// The array's binary form (PostgreSQL's `array_recv`): dimensions, a flags word, the element type, the one
    /// dimension's length and lower bound, then each element as its length (-1: NULL) and bytes.
    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer,
                                                  context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(count == 0 ? 0 : 1, as: Int32.self)
        buffer.writeInteger(0, as: Int32.self)
        switch values {
        case .text: buffer.writeInteger(PostgresDataType.text.rawValue)
        case .double: buffer.writeInteger(PostgresDataType.float8.rawValue)
        case .int64: buffer.writeInteger(PostgresDataType.int8.rawValue)
        }
        guard count > 0 else { return }
        buffer.writeInteger(Int32(count))
        buffer.writeInteger(1, as: Int32.self)
        switch values {
        case .text(let value):
            for index in 0..<count {
                guard var text = value(index) else {
                    buffer.writeInteger(-1, as: Int32.self)
                    continue
                }
                text.withUTF8 { bytes in
                    buffer.writeInteger(Int32(bytes.count))
                    // PostgreSQL's text holds no NUL (a path may carry one): each is written as '?', the length
                    // kept.
                    if bytes.count > 0, memchr(bytes.baseAddress!, 0, bytes.count) != nil {
                        buffer.writeBytes(bytes.map { $0 == 0 ? UInt8(ascii: "?") : $0 })
                    } else {
                        buffer.writeBytes(bytes)
                    }
                }
            }
        case .double(let value):
            for index in 0..<count {
                buffer.writeInteger(8, as: Int32.self)
                buffer.writeInteger(value(index).bitPattern)
            }
        case .int64(let value):
            for index in 0..<count {
                buffer.writeInteger(8, as: Int32.self)
                buffer.writeInteger(value(index))
            }
        }
    }
}

/// Values in `COPY`'s text format: columns separated by tabs, rows ended by a newline, NULL as `\N`, and in text a
/// backslash, tab, newline or carriage return escaped (a NUL, which PostgreSQL's text cannot hold, written as '?').
enum CopyText {
    static func write(_ value: String?, to buffer: inout ByteBuffer, last: Bool = false) {
        if var value {
            value.withUTF8 { bytes in
                if bytes.contains(where: { $0 == 0x5C || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D || $0 == 0 }) {
                    for byte in bytes {
                        switch byte {
                        case 0x5C: buffer.writeStaticString("\\\\")
                        case 0x09: buffer.writeStaticString("\\t")
                        case 0x0A: buffer.writeStaticString("\\n")
                        case 0x0D: buffer.writeStaticString("\\r")
                        case 0: buffer.writeInteger(UInt8(ascii: "?"))
                        default: buffer.writeInteger(byte)
                        }
                    }
                } else {
                    buffer.writeBytes(bytes)
                }
            }
        } else {
            buffer.writeStaticString("\\N")
        }
        buffer.writeInteger(last ? UInt8(ascii: "\n") : UInt8(ascii: "\t"))
    }

    /// A number as PostgreSQL reads it back exactly (the shortest text that round-trips).
    static func write(_ value: Double, to buffer: inout ByteBuffer) {
        buffer.writeString(value.description)
        buffer.writeInteger(UInt8(ascii: "\t"))
    }

    static func write(_ value: Int64, to buffer: inout ByteBuffer) {
        buffer.writeString(String(value))
        buffer.writeInteger(UInt8(ascii: "\t"))
    }
}
