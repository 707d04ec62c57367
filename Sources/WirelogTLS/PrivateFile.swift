#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files only their owner may read: keys, key logs.
enum PrivateFile {
    /// Opens `path` for writing, made with `mode` if new and narrowed to it if not.
    static func open(_ path: String, appending: Bool, mode: mode_t = 0o600) throws -> Int32 {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (appending ? O_APPEND : O_TRUNC)
        let fd = systemOpen(path, flags, mode)
        guard fd >= 0 else { throw TLSSetupError.cannotWrite(path, reason: String(cString: strerror(errno))) }
        fchmod(fd, mode)
        return fd
    }

    static func write(_ text: String, to path: String, mode: mode_t = 0o600) throws {
        let fd = try open(path, appending: false, mode: mode)
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ systemWrite(fd, $0) }) == bytes.count else {
            throw TLSSetupError.cannotWrite(path, reason: String(cString: strerror(errno)))
        }
    }

    static func systemWrite(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
        #if canImport(Glibc)
        Glibc.write(fd, bytes.baseAddress, bytes.count)
        #else
        Darwin.write(fd, bytes.baseAddress, bytes.count)
        #endif
    }

    private static func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 {
        #if canImport(Glibc)
        Glibc.open(path, flags, mode)
        #else
        Darwin.open(path, flags, mode)
        #endif
    }
}
