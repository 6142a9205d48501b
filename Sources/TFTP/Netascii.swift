import NIOCore

/// Netascii (RFC 764): LF is sent as CR LF, CR as CR NUL.
enum Netascii {
    static func encode(_ buffer: ByteBuffer) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(buffer.readableBytes + buffer.readableBytes / 16)
        for byte in buffer.readableBytesView {
            switch byte {
            case 0x0A: out.writeBytes([0x0D, 0x0A])
            case 0x0D: out.writeBytes([0x0D, 0x00])
            default: out.writeInteger(byte)
            }
        }
        return out
    }

    static func decode(_ buffer: ByteBuffer) -> ByteBuffer {
        var out = ByteBuffer()
        var pendingCR = false
        for byte in buffer.readableBytesView {
            if pendingCR {
                pendingCR = false
                if byte == 0x0A { out.writeInteger(UInt8(0x0A)); continue }
                out.writeInteger(UInt8(0x0D))
                if byte == 0x00 { continue }
            }
            if byte == 0x0D { pendingCR = true } else { out.writeInteger(byte) }
        }
        if pendingCR { out.writeInteger(UInt8(0x0D)) }
        return out
    }
}
