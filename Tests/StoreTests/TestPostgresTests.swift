import Foundation
import Testing
import TestSupport

/// The PostgreSQL that scripts/test starts is there, gives each test its own database, checks
/// passwords and restarts. Without it these fail: a skipped backend is not a pass.
@Suite(.serialized) struct TestPostgresTests {
    @Test func aFreshDatabaseAnswers() throws {
        let url = try TestPostgres.freshDatabaseURL()
        #expect(try TestPostgres.psql(url, "SELECT 1") == "1")
        let name = try #require(URLComponents(string: url)?.path.dropFirst())
        #expect(name.hasPrefix("wl_test_"))
        #expect(try TestPostgres.psql(url, "SELECT current_database()") == String(name))
        #expect(try TestPostgres.psql(url, "SELECT current_user") == "wirelog")
    }

    @Test func twoFreshDatabasesAreApart() throws {
        let first = try TestPostgres.freshDatabaseURL()
        let second = try TestPostgres.freshDatabaseURL()
        #expect(first != second)
        try TestPostgres.psql(first, "CREATE TABLE only_here (id int)")
        #expect(try TestPostgres.psql(first, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_here'") == "1")
        #expect(try TestPostgres.psql(second, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_here'") == "0")
    }

    @Test func thePasswordRoleTakesTheRightPasswordOnly() throws {
        let right = try TestPostgres.passwordURL(password: "right-password")
        #expect(try TestPostgres.psql(right, "SELECT current_user") == "wirelog_pw")
        #expect(try TestPostgres.psql(right, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()")
            == "wirelog_pw")

        let wrong = try TestPostgres.passwordURL(password: "wrong-password")
        let refused = #expect(throws: TestPostgresError.self) { try TestPostgres.psql(wrong, "SELECT 1") }
        #expect(refused?.description.contains("password authentication failed") == true)

        let bare = try TestPostgres.passwordURL(password: nil)
        #expect(!bare.contains("password"))
        #expect(throws: TestPostgresError.self) { try TestPostgres.psql(bare, "SELECT 1") }
        #expect(throws: TestPostgresError.self) {
            try TestPostgres.psql(bare, "SELECT 1", environment: ["PGPASSWORD": "wrong-password"])
        }
        #expect(try TestPostgres.psql(bare, "SELECT 1", environment: ["PGPASSWORD": "right-password"]) == "1")
    }

    @Test func aRestartKeepsWhatWasCommitted() throws {
        let url = try TestPostgres.freshDatabaseURL()
        try TestPostgres.psql(url, "CREATE TABLE kept (id int); INSERT INTO kept VALUES (42)")
        let before = try TestPostgres.psql(url, "SELECT pg_postmaster_start_time()")
        try TestPostgres.restart()
        #expect(try TestPostgres.psql(url, "SELECT pg_postmaster_start_time()") != before)
        #expect(try TestPostgres.psql(url, "SELECT id FROM kept") == "42")
    }
}
