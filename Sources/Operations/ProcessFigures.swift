import Foundation

/// The process's own figures, read from /proc when scraped (Linux; elsewhere nil).
struct ProcessFigures {
    var residentBytes: Double
    var openFiles: Double
    var cpuSeconds: Double
    var startSeconds: Double

    static func read() -> ProcessFigures? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let system = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let files = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")
        else { return nil }
        // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // From field 3 (state) on: utime is field 14, stime 15, starttime 22 (proc(5)).
        guard fields.count > 19, let user = Double(fields[11]), let system_ = Double(fields[12]), let start = Double(fields[19]),
              let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Double($0) }),
              let bootLine = system.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let boot = Double(bootLine.dropFirst("btime ".count))
        else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ProcessFigures(
            residentBytes: pages * Double(sysconf(Int32(_SC_PAGESIZE))),
            openFiles: Double(files.count - 1),  // less the descriptor that lists them
            cpuSeconds: (user + system_) / ticks,
            startSeconds: boot + start / ticks)
    }
}
