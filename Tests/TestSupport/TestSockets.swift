import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Plain blocking sockets for the peers of the proxy and the mock: they make half-close,
/// resets and slow reading explicit. Every wait is bounded by `poll`.
public enum SocketError: Error, CustomStringConvertible {
    case failed(String, Int32)
    case timedOut(String)
    case reset

    public var description: String {
        switch self {
        case .failed(let what, let code): "\(what) failed: \(String(cString: strerror(code)))"
        case .timedOut(let what): "timed out: \(what)"
        case .reset: "connection reset by peer"
        }
    }
}

public final class TestSocket: @unchecked Sendable {
    public let fd: Int32

    public init(fd: Int32) {
        self.fd = fd
        var on: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Connects to 127.0.0.1:`port` (or [::1] with `ipv6`); a small `receiveBuffer` makes a slow reader.
    public static func connect(port: Int, ipv6: Bool = false, receiveBuffer: Int32? = nil) throws -> TestSocket {
        let fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError.failed("socket", errno) }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        let result: Int32
        if ipv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            address.sin6_addr = in6addr_loopback
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var address = loopback(port: port)
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw SocketError.failed("connect to port \(port)", code)
        }
        return TestSocket(fd: fd)
    }

    /// Sends every byte, waiting at most `timeout` for room each time.
    public func send(_ bytes: [UInt8], timeout: TimeInterval = 30) throws {
        var offset = 0
        while offset < bytes.count {
            try wait(for: Int16(POLLOUT), timeout: timeout, what: "sending")
            let sent = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, min(bytes.count - offset, 1 << 20), Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if sent < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                if errno == ECONNRESET || errno == EPIPE { throw SocketError.reset }
                throw SocketError.failed("send", errno)
            }
            offset += sent
        }
    }

    /// Up to `max` bytes; nil at end of stream.
    public func receive(max: Int = 1 << 16, timeout: TimeInterval = 30) throws -> [UInt8]? {
        while true {
            try wait(for: Int16(POLLIN), timeout: timeout, what: "receiving")
            var buffer = [UInt8](repeating: 0, count: max)
            let count = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress!, max, Int32(MSG_DONTWAIT)) }
            if count < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                if errno == ECONNRESET { throw SocketError.reset }
                throw SocketError.failed("recv", errno)
            }
            if count == 0 { return nil }
            return Array(buffer[0..<count])
        }
    }

    public func receive(exactly count: Int, timeout: TimeInterval = 30) throws -> [UInt8] {
        var received: [UInt8] = []
        received.reserveCapacity(count)
        while received.count < count {
            guard let chunk = try receive(max: min(1 << 20, count - received.count), timeout: timeout) else {
                throw SocketError.failed("stream ended after \(received.count) of \(count) bytes; recv", 0)
            }
            received += chunk
        }
        return received
    }

    /// Everything until end of stream.
    public func receiveAll(timeout: TimeInterval = 30) throws -> [UInt8] {
        var received: [UInt8] = []
        while let chunk = try receive(max: 1 << 20, timeout: timeout) { received += chunk }
        return received
    }

    public func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Closes with a TCP reset (SO_LINGER 0).
    public func reset() {
        var option = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        close()
    }

    private let closed = NSLock()
    private var isClosed = false

    public func close() {
        closed.lock()
        defer { closed.unlock() }
        guard !isClosed else { return }
        isClosed = true
        Glibc.close(fd)
    }

    deinit { close() }

    private func wait(for events: Int16, timeout: TimeInterval, what: String) throws {
        var entry = pollfd(fd: fd, events: events, revents: 0)
        let ready = poll(&entry, 1, Int32(timeout * 1000))
        if ready == 0 { throw SocketError.timedOut(what) }
        if ready < 0 && errno != EINTR { throw SocketError.failed("poll", errno) }
    }
}

/// A listening socket on 127.0.0.1 and a port of the kernel's choosing.
public final class TestListener: @unchecked Sendable {
    public let fd: Int32
    public let port: Int

    public init(backlog: Int32 = 16) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError.failed("socket", errno) }
        self.fd = fd
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, backlog) == 0 else { throw SocketError.failed("bind/listen", errno) }
        port = localPort(fd)
    }

    public func accept(timeout: TimeInterval = 30) throws -> TestSocket {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, Int32(timeout * 1000)) == 1 else { throw SocketError.timedOut("accept") }
        let client = Glibc.accept(fd, nil, nil)
        guard client >= 0 else { throw SocketError.failed("accept", errno) }
        return TestSocket(fd: client)
    }

    deinit { Glibc.close(fd) }
}

/// A port nothing listens on now: bound by the kernel's choice, then released.
public func freePort() throws -> Int {
    let listener = try TestListener()
    return listener.port
}

private func loopback(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
    return address
}

private func localPort(_ fd: Int32) -> Int {
    var address = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Runs blocking socket work on its own thread, keeping Swift's cooperative pool free.
public func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try body() })
        }
    }
}

/// Reproducible bytes covering all 256 values (SplitMix64).
public func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { raw in
        var offset = 0
        while offset < count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            withUnsafeBytes(of: z.littleEndian) { word in
                let take = min(8, count - offset)
                raw.baseAddress!.advanced(by: offset).copyMemory(from: word.baseAddress!, byteCount: take)
            }
            offset += 8
        }
    }
    return bytes
}

/// A listener whose accept queue is full and never drained: a connect to it gets no
/// answer at all, like a server behind a firewall that drops packets.
public final class UnansweringListener: @unchecked Sendable {
    private let listener: TestListener
    private var fillers: [Int32] = []
    public var port: Int { listener.port }

    public init() throws {
        listener = try TestListener(backlog: 0)
        for _ in 0..<4 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
            var address = loopback(port: listener.port)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            fillers.append(fd)
        }
    }

    deinit { for fd in fillers { Glibc.close(fd) } }
}

/// Byte equality with memcmp: comparing megabytes element by element is slow in debug builds.
public func sameBytes(_ a: [UInt8], _ b: some Collection<UInt8>) -> Bool {
    let b = Array(b)
    guard a.count == b.count else { return false }
    guard !a.isEmpty else { return true }
    return a.withUnsafeBytes { x in b.withUnsafeBytes { y in memcmp(x.baseAddress!, y.baseAddress!, a.count) == 0 } }
}
