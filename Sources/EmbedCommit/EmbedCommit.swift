import Foundation
import PackagePlugin

/// Notes the commit being built (`git rev-parse`; "unknown" outside a git checkout) in a generated
/// `buildCommit`, for `wirelog --version`. It runs again only when git's HEAD or the branch it
/// names moves, so a build of an unchanged tree stays a no-op (a prebuild command would plan and
/// recompile on every build).
@main
struct EmbedCommit: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let package = context.package.directoryURL
        let output = context.pluginWorkDirectoryURL.appending(path: "BuildCommit.swift")
        let script = #"""
            commit=$(git -C "$1" rev-parse --short=12 HEAD 2>/dev/null) || commit=unknown
            printf 'let buildCommit = "%s"\n' "$commit" >"$2"
            """#
        return [
            .buildCommand(
                displayName: "Noting the commit for --version",
                executable: URL(filePath: "/bin/sh"),
                arguments: ["-c", script, "sh", package.path(), output.path()],
                inputFiles: Self.gitFiles(of: package),
                outputFiles: [output])
        ]
    }

    /// HEAD, the branch file it names and packed-refs: what moves when the commit does. In a
    /// worktree `.git` is a file naming its own git directory, whose `commondir` holds the branches.
    static func gitFiles(of package: URL) -> [URL] {
        func text(_ url: URL) -> String? {
            (try? String(contentsOf: url, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var gitDirectory = package.appending(path: ".git")
        if let pointer = text(gitDirectory), pointer.hasPrefix("gitdir: ") {
            let path = String(pointer.dropFirst("gitdir: ".count))
            gitDirectory = path.hasPrefix("/") ? URL(filePath: path) : package.appending(path: path)
        }
        let common = text(gitDirectory.appending(path: "commondir")).map {
            $0.hasPrefix("/") ? URL(filePath: $0) : gitDirectory.appending(path: $0)
        } ?? gitDirectory
        let head = gitDirectory.appending(path: "HEAD")
        var files = [head, common.appending(path: "packed-refs")]
        if let reference = text(head), reference.hasPrefix("ref: ") {
            files.append(common.appending(path: String(reference.dropFirst("ref: ".count))))
        }
        return files.map(\.standardizedFileURL).filter { FileManager.default.fileExists(atPath: $0.path()) }
    }
}
