import Foundation
import Hummingbird
import NIOCore

/// A JSON object a request sent, read whole (at most ``maximumBytes``), with typed fields that name themselves in
/// errors: a wrong type (null included) or an unknown field is a 400 naming the field, never a guess.
struct APIRequestBody {
    static let maximumBytes = 1 << 20

    let fields: [String: Any]

    init(_ request: Request, allowed: Set<String>) async throws {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: APIRequestBody.maximumBytes)
        } catch is NIOTooManyBytesError {
            throw APIError(status: .contentTooLarge, code: "too-large",
                           message: "the body is larger than \(APIRequestBody.maximumBytes) bytes")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any] else {
            throw APIError.badRequest("the body is not a JSON object")
        }
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw APIError.badRequest("\(unknown): not a field of this body (fields: \(allowed.sorted().joined(separator: ", ")))")
        }
        fields = object
    }

    func has(_ name: String) -> Bool { fields[name] != nil }

    /// A JSON number with no fraction (JSON's `true` and `false` are numbers to Foundation, of type `c`).
    static func isInteger(_ value: Any?) -> Bool {
        guard let number = value as? NSNumber, String(cString: number.objCType) != "c" else { return false }
        return number.doubleValue.rounded() == number.doubleValue && number.doubleValue.isFinite
    }

    func string(_ name: String) throws -> String? {
        guard let value = fields[name] else { return nil }
        guard let text = value as? String else { throw APIError.badRequest("\(name): must be a string") }
        return text
    }

    func strings(_ name: String) throws -> [String]? {
        guard let value = fields[name] else { return nil }
        guard let list = value as? [Any], let texts = list as? [String], texts.count == list.count else {
            throw APIError.badRequest("\(name): must be an array of strings")
        }
        return texts
    }

    /// An object of strings; with `nulls`, a null value stands for "remove" (JSON merge patch, RFC 7396).
    func variables(_ name: String, nulls: Bool) throws -> [String: String?]? {
        guard let value = fields[name] else { return nil }
        guard let object = value as? [String: Any] else { throw APIError.badRequest("\(name): must be an object of strings") }
        var result: [String: String?] = [:]
        for (key, item) in object {
            if let text = item as? String {
                result[key] = .some(text)
            } else if nulls, item is NSNull {
                result[key] = .some(nil)
            } else {
                throw APIError.badRequest("\(name).\(key): must be a string\(nulls ? " or null" : "")")
            }
        }
        return result
    }
}
