import Foundation
import Presentation
import Recording

/// Writes sessions as a classic pcap file (microsecond timestamps, Ethernet link type) with
/// synthetic framing: a TCP handshake at the session start, one segment per message (split at
/// 1460 bytes) with consistent sequence and acknowledgement numbers and correct IPv4 and TCP
/// checksums, and a FIN exchange when the session ended. Wireshark and tshark then reassemble
/// exactly the recorded bytes of each direction. A proxied connection the upstream refused or never
/// answered shows only that: the SYN, and the reset if there was one.
public struct PcapWriter {
    /// One side of a connection as the pcap shows it.
    public struct Endpoint: Equatable {
        public var address: [UInt8]  // 4 bytes (IPv4) or 16 (IPv6)
        public var port: UInt16
    }

    public struct Message {
        public var atMicros: Int64
        public var fromClient: Bool
        public var raw: [UInt8]

        public init(atMicros: Int64, fromClient: Bool, raw: [UInt8]) {
            self.atMicros = atMicros
            self.fromClient = fromClient
            self.raw = raw
        }
    }

    public static let maximumSegment = 1460

    /// Bytes not yet taken by `take()`; starts with the file header.
    public private(set) var buffer: [UInt8] = []
    private var ipIdentification: UInt16 = 0

    public init() {
        append32(0xA1B2_C3D4)  // magic: microsecond timestamps
        append16(2)
        append16(4)
        append32(0)  // this zone
        append32(0)  // timestamp accuracy
        append32(262_144)  // snapshot length
        append32(1)  // LINKTYPE_ETHERNET
    }

    /// Hands over what was written so far (write it out between sessions to bound memory).
    public mutating func take() -> [UInt8] {
        defer { buffer.removeAll(keepingCapacity: true) }
        return buffer
    }

    /// Host strings as recorded → addresses of one family. IPv4 when both sides are IPv4, else
    /// IPv6 (IPv4 mapped as ::ffff:a.b.c.d). A name that is no address (a proxy's upstream host)
    /// gets a documentation address: 192.0.2.1/2 or 2001:db8::1/2.
    public static func endpoints(clientHost: String, clientPort: Int, serverHost: String, serverPort: Int) -> (Endpoint, Endpoint) {
        let client = IPAddressText.bytes(clientHost), server = IPAddressText.bytes(serverHost)
        let useIPv6 = client?.count == 16 || server?.count == 16
        func address(_ parsed: [UInt8]?, fallback: UInt8) -> [UInt8] {
            guard let parsed else {
                return useIPv6 ? [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [fallback] : [192, 0, 2, fallback]
            }
            if useIPv6 && parsed.count == 4 { return [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF] + parsed }
            return parsed
        }
        return (Endpoint(address: address(client, fallback: 1), port: UInt16(truncatingIfNeeded: clientPort)),
                Endpoint(address: address(server, fallback: 2), port: UInt16(truncatingIfNeeded: serverPort)))
    }

    /// How the connection to the server began, as far as the pcap shows it.
    public enum Opening {
        /// The handshake completed.
        case established
        /// The server refused it: a SYN answered by a reset at the session's end, nothing more.
        case refused
        /// The server never answered: a lone SYN.
        case unanswered
    }

    /// One TCP connection: handshake at `startedMicros`, the messages, FIN exchange at `endedMicros`;
    /// a connection that was never `established` shows only the attempt.
    public mutating func addSession(client: Endpoint, server: Endpoint, startedMicros: Int64, endedMicros: Int64?,
                                    opening: Opening = .established, messages: some Sequence<Message>) {
        var clientNext: UInt32 = 0x1000_0000
        var serverNext: UInt32 = 0x2000_0000
        let syn: UInt8 = 0x02, ack: UInt8 = 0x10, psh: UInt8 = 0x08, fin: UInt8 = 0x01, rst: UInt8 = 0x04

        packet(startedMicros, client, server, fromClient: true, seq: clientNext, ack: 0, flags: syn, payload: [])
        clientNext &+= 1
        switch opening {
        case .established: break
        case .refused:
            packet(endedMicros ?? startedMicros, client, server, fromClient: false, seq: 0, ack: clientNext, flags: rst | ack, payload: [])
            return
        case .unanswered: return
        }
        packet(startedMicros, client, server, fromClient: false, seq: serverNext, ack: clientNext, flags: syn | ack, payload: [])
        serverNext &+= 1
        packet(startedMicros, client, server, fromClient: true, seq: clientNext, ack: serverNext, flags: ack, payload: [])

        for message in messages {
            var offset = 0
            while offset < message.raw.count {
                let segment = Array(message.raw[offset..<min(offset + Self.maximumSegment, message.raw.count)])
                if message.fromClient {
                    packet(message.atMicros, client, server, fromClient: true, seq: clientNext, ack: serverNext, flags: psh | ack, payload: segment)
                    clientNext &+= UInt32(segment.count)
                } else {
                    packet(message.atMicros, client, server, fromClient: false, seq: serverNext, ack: clientNext, flags: psh | ack, payload: segment)
                    serverNext &+= UInt32(segment.count)
                }
                offset += segment.count
            }
        }

        guard let endedMicros else { return }
        packet(endedMicros, client, server, fromClient: true, seq: clientNext, ack: serverNext, flags: fin | ack, payload: [])
        clientNext &+= 1
        packet(endedMicros, client, server, fromClient: false, seq: serverNext, ack: clientNext, flags: fin | ack, payload: [])
        serverNext &+= 1
        packet(endedMicros, client, server, fromClient: true, seq: clientNext, ack: serverNext, flags: ack, payload: [])
    }

    private mutating func packet(_ atMicros: Int64, _ client: Endpoint, _ server: Endpoint, fromClient: Bool,
                                 seq: UInt32, ack: UInt32, flags: UInt8, payload: [UInt8]) {
        let (source, destination) = fromClient ? (client, server) : (server, client)
        var tcp: [UInt8] = []
        tcp.reserveCapacity(20 + payload.count)
        tcp.appendBigEndian(source.port)
        tcp.appendBigEndian(destination.port)
        tcp.appendBigEndian(seq)
        tcp.appendBigEndian(ack)
        tcp.append(5 << 4)  // header length: 5 words, no options
        tcp.append(flags)
        tcp.appendBigEndian(UInt16(65_535))  // window
        tcp.appendBigEndian(UInt16(0))  // checksum, filled below
        tcp.appendBigEndian(UInt16(0))  // urgent pointer
        tcp.append(contentsOf: payload)

        var pseudoHeader = source.address + destination.address
        let isIPv6 = source.address.count == 16
        if isIPv6 {
            pseudoHeader.appendBigEndian(UInt32(tcp.count))
            pseudoHeader += [0, 0, 0, 6]
        } else {
            pseudoHeader += [0, 6]
            pseudoHeader.appendBigEndian(UInt16(tcp.count))
        }
        let tcpChecksum = Self.internetChecksum(pseudoHeader + tcp)
        tcp[16] = UInt8(tcpChecksum >> 8)
        tcp[17] = UInt8(tcpChecksum & 0xFF)

        var frame: [UInt8] = []
        frame.reserveCapacity(14 + 40 + tcp.count)
        // Locally administered MACs: 02:…:01 for the client, 02:…:02 for the server.
        let clientMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0x01], serverMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0x02]
        frame += fromClient ? serverMAC + clientMAC : clientMAC + serverMAC
        frame.appendBigEndian(UInt16(isIPv6 ? 0x86DD : 0x0800))
        if isIPv6 {
            frame.appendBigEndian(UInt32(0x6000_0000))
            frame.appendBigEndian(UInt16(tcp.count))
            frame += [6, 64]  // next header TCP, hop limit
            frame += source.address + destination.address
        } else {
            var ip: [UInt8] = [0x45, 0]
            ip.appendBigEndian(UInt16(20 + tcp.count))
            ip.appendBigEndian(ipIdentification)
            ipIdentification &+= 1
            ip.appendBigEndian(UInt16(0x4000))  // don't fragment
            ip += [64, 6, 0, 0]  // TTL, TCP, checksum placeholder
            ip += source.address + destination.address
            let checksum = Self.internetChecksum(ip)
            ip[10] = UInt8(checksum >> 8)
            ip[11] = UInt8(checksum & 0xFF)
            frame += ip
        }
        frame += tcp

        append32(UInt32(truncatingIfNeeded: atMicros.floorDiv(1_000_000)))
        append32(UInt32(truncatingIfNeeded: atMicros.floorMod(1_000_000)))
        append32(UInt32(frame.count))
        append32(UInt32(frame.count))
        buffer += frame
    }

    /// RFC 1071: the ones' complement of the ones' complement sum of 16-bit words.
    public static func internetChecksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    // The file header and record headers are little-endian (the magic tells readers so).
    private mutating func append16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { buffer += $0 } }
    private mutating func append32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { buffer += $0 } }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}
