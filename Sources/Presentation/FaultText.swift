import LabProtocol
import Recording

/// How a session's faults read (docs/FAULTS.md): `sessions show` and the viewer's session page.
public enum FaultText {
    /// `fault +0.012s  rst (reset_peer:timeout=0,stream=upstream) upstream: reset the connection…`
    public static func lines(_ session: SessionSummary) -> [String] {
        session.faults.map { fault in
            "fault \(RelativeTime.offset(fault.atMicros - session.startedMicros))  \(Escaping.escape(Array(fault.toxic.utf8))) "
                + "(\(Escaping.escape(Array(fault.settings.utf8)))) \(fault.direction): \(Escaping.escape(Array(fault.what.utf8)))"
        }
    }
}
