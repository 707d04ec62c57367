import Foundation
import TestSupport

/// aiosmtpd (Debian's python3-aiosmtpd) on 127.0.0.1:`port`, for the SMTP tests: takes any mail,
/// and AUTH LOGIN/PLAIN with `password`. With `certificates` it offers STARTTLS; with `requireTLS`
/// it takes neither AUTH nor mail before it.
enum SMTPServerFixture {
    static func start(in directory: TemporaryDirectory, port: Int, password: String,
                      certificates: TestCertificates? = nil, requireTLS: Bool = false) throws -> Program {
        let script = directory.file("smtp_server_\(port).py")
        let context = certificates.map {
            "ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH); ctx.load_cert_chain(\"\($0.leafPath)\", \"\($0.keyPath)\")"
        } ?? "ctx = None"
        let required = requireTLS ? "True" : "False"
        try Data("""
            import ssl, sys, threading
            from aiosmtpd.controller import Controller
            from aiosmtpd.smtp import AuthResult, LoginPassword
            class Handler:
                async def handle_DATA(self, server, session, envelope):
                    return "250 OK"
            def authenticator(server, session, envelope, mechanism, auth_data):
                return AuthResult(success=isinstance(auth_data, LoginPassword) and auth_data.password == b"\(password)")
            \(context)
            controller = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1]), authenticator=authenticator,
                                    tls_context=ctx, require_starttls=\(required), auth_require_tls=\(required))
            controller.start()
            threading.Event().wait()
            """.utf8).write(to: URL(fileURLWithPath: script))
        return try Program("/usr/bin/python3", [script, String(port)])
    }
}
