import Foundation

/// A fresh directory under the system's temporary directory, removed on `deinit`.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init(_ label: String = "wirelog-test") {
        let template = (NSTemporaryDirectory() as NSString).appendingPathComponent("\(label)-XXXXXX")
        var bytes = Array(template.utf8CString)
        let made = bytes.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed for \(template)")
        path = String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A path inside the directory.
    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    deinit {
        _ = chmodRecursively(path)
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Tests make things read-only; give back write access so the directory can be removed.
    private func chmodRecursively(_ path: String) -> Bool {
        chmod(path, 0o700)
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: path) else { return true }
        for entry in entries {
            let child = (path as NSString).appendingPathComponent(entry)
            chmod(child, 0o700)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: child, isDirectory: &isDirectory), isDirectory.boolValue {
                _ = chmodRecursively(child)
            }
        }
        return true
    }
}
