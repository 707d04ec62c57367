import Foundation

/// `wirelog` run where the test needs conditions this machine does not give: no network, or file
/// modes that hold for root too.
extension WirelogProcess {
    /// `wirelog arguments…` in a network namespace of its own (`unshare -n`): a host name other
    /// than localhost resolves nowhere and nothing leaves the machine (house rule: only loopback).
    public static func runWithoutNetwork(_ arguments: [String]) throws -> ProcessResult {
        try confined(unshareNetwork + [WirelogBinary.path] + arguments)
    }

    /// Whether `runWithoutNetwork` can run here (namespaces may be off in a container).
    public static let canRunWithoutNetwork: Bool = (try? confined(unshareNetwork + ["true"]).status) == 0

    /// Root may make namespaces; anyone else makes a user namespace for it first.
    private static let unshareNetwork = geteuid() == 0 ? ["unshare", "-n"] : ["unshare", "-rn"]

    /// `wirelog arguments…` subject to file modes: as root (CI), without the capabilities that let
    /// root read and write whatever it likes (setpriv, util-linux), so that the modes of the files
    /// root owns hold for it as for any owner.
    public static func runWithoutFileAccessPrivileges(_ arguments: [String]) throws -> ProcessResult {
        guard geteuid() == 0 else { return try run(arguments) }
        return try confined(["setpriv", "--bounding-set=-dac_override,-dac_read_search", WirelogBinary.path] + arguments)
    }

    /// Runs `command` (a confining program, then wirelog and its arguments) to completion, no input.
    private static func confined(_ command: [String]) throws -> ProcessResult {
        let child = try WirelogProcess(command, executable: "/usr/bin/env")
        child.closeInput()
        return try child.wait()
    }
}
