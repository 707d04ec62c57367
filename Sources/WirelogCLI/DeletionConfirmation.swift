import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `prune` and `delete` cannot be undone: a person at a terminal (standard input and error both
/// one) is asked first, unless `--yes`. Scripts and pipes are not asked.
struct DeletionConfirmation: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Do not ask before deleting (only a terminal is asked).")
    var yes = false

    /// Whether `confirm` will ask (callers may skip working out what to say when it will not).
    var willAsk: Bool { !yes && isatty(STDIN_FILENO) == 1 && isatty(STDERR_FILENO) == 1 }

    /// True to go ahead. `what` completes "delete …?", such as "3 sessions and 12 messages".
    func confirm(_ what: String) -> Bool {
        guard willAsk else { return true }
        FileHandle.standardError.write(Data("delete \(what) for good? [y/N] ".utf8))
        guard let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() else { return false }
        return answer == "y" || answer == "yes"
    }
}

extension ExitCode {
    /// The person answered no: nothing was deleted.
    static let notConfirmed = ExitCode(1)
}
