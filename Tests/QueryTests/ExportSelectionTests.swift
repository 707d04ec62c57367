import Foundation
import Testing
import TestSupport

/// `sessions export` chooses sessions by ids, by the filters of `sessions list`, or --all.
@Suite struct ExportSelectionTests {
    private func exportedSessionIDs(_ result: ProcessResult) -> [Int] {
        result.stdoutText.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  object["type"] as? String == "session" else { return nil }
            return object["id"] as? Int
        }
    }

    @Test(arguments: TestBackend.allCases)
    func filtersOrAllChooseTheSessionsOldestFirst(_ backend: TestBackend) async throws {
        let fixture = try await QueryFixture.record(backend)
        let all = try fixture.run(["export", "--all", "--format", "ndjson"])
        #expect(all.failure == nil)
        let everyID: [Int] = fixture.sessions.map { Int($0.id) }
        #expect(exportedSessionIDs(all) == everyID)

        let quit = try fixture.run(["export", "--reason", "quit", "--format", "ndjson"])
        let quitIDs: [Int] = fixture.sessions.filter { $0.endReason == "quit" }.map { Int($0.id) }
        #expect(exportedSessionIDs(quit) == quitIDs)

        let none = try fixture.run(["export", "--kind", "proxy", "--format", "ndjson"])
        #expect(none.status == 2)
        #expect(none.stderrText.hasPrefix("wirelog: no session matches the filters"))

        let nothingNamed = try fixture.run(["export", "--format", "ndjson"])
        #expect(nothingNamed.status == 64)
        #expect(nothingNamed.stderrText.contains("name the sessions"))
    }
}
