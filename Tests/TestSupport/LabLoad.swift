import Client
import Foundation

/// Lab clients sending `DATA <tag>-<client>-<n>` commands, each payload counted once the server
/// acknowledged it: after a crash or an outage every acknowledged payload must be stored.
public enum LabLoad {
    /// `clients` connections, each sending up to `commands` DATA commands until a reply is missing
    /// or wrong. With `reconnect`, a connection that fails is replaced (until `until` says stop).
    public static func run(port: Int, clients: Int, commands: Int = 5_000, tag: String,
                           acknowledged: AcknowledgedPayloads, reconnect: Bool = false,
                           until stop: @escaping @Sendable () -> Bool = { false },
                           onAck: @escaping @Sendable (Int) -> Void = { _ in }) async {
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<clients {
                group.addTask {
                    var sent = 0
                    var attempt = 0
                    repeat {
                        attempt += 1
                        guard let connection = try? await LabConnection.connect(host: "127.0.0.1", port: port) else {
                            if reconnect { try? await Task.sleep(for: .milliseconds(20)) }
                            continue
                        }
                        while sent < commands && !stop() {
                            let payload = "\(tag)-\(client)-\(attempt)-\(sent)"
                            sent += 1
                            guard (try? await connection.send(Array("DATA \(payload)\n".utf8))) != nil,
                                  let reply = try? await connection.readReply(timeout: .seconds(10)),
                                  reply == Array("300 DRCV\n".utf8) else { break }
                            onAck(acknowledged.add(payload))
                        }
                        await connection.close()
                    } while reconnect && sent < commands && !stop()
                }
            }
        }
    }
}
