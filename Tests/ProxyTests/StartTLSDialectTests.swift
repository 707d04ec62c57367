import NIOCore
import Testing
@testable import Proxy

/// The upgrade rules on their own, as values: what each read becomes, whatever the reads' sizes.
@Suite struct StartTLSDialectTests {
    static let sslRequest: [UInt8] = [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]
    static let gssencRequest: [UInt8] = [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x30]
    static let startup: [UInt8] = [0, 0, 0, 9, 0, 3, 0, 0, 0]

    private func text(_ buffer: ByteBuffer?) -> String? { buffer.map { String(buffer: $0) } }
    private func bytes(_ buffer: ByteBuffer?) -> [UInt8]? { buffer.map { Array($0.readableBytesView) } }

    @Test func postgresSSLRequestIsAnsweredByTheProxyWhenTheUpstreamStaysPlain() {
        var dialect = PostgresStartTLS(policy: StartTLSPolicy(canTerminate: true, upstreamTLS: false))
        // Cut short: nothing is forwarded or answered until the request is whole.
        let first = dialect.clientSent(ByteBuffer(bytes: Self.sslRequest[0..<3]))
        #expect(first.forward == nil && first.answer == nil && first.upgrade == nil)
        let rest = dialect.clientSent(ByteBuffer(bytes: Self.sslRequest[3...]))
        #expect(rest.forward == nil)
        #expect(text(rest.answer) == "S")
        #expect(rest.upgrade == .client)
        dialect.clientUpgraded()
        #expect(bytes(dialect.clientSent(ByteBuffer(bytes: Self.startup)).forward) == Self.startup)
    }

    @Test func postgresWithoutACertificateAnswersNAndGSSEncryptionIsAlwaysRefused() {
        var dialect = PostgresStartTLS(policy: StartTLSPolicy(canTerminate: false, upstreamTLS: false))
        let step = dialect.clientSent(ByteBuffer(bytes: Self.gssencRequest + Self.sslRequest))
        #expect(text(step.answer) == "NN")
        #expect(step.forward == nil && step.upgrade == nil)
        // Then the startup, forwarded as it came, and everything after it.
        #expect(bytes(dialect.clientSent(ByteBuffer(bytes: Self.startup)).forward) == Self.startup)
        #expect(text(dialect.upstreamSent(ByteBuffer(string: "R")).forward) == "R")
    }

    @Test func postgresAsksTheUpstreamUnderUpstreamTLSAndDropsWhatWasPipelinedAfterTheRequest() {
        var dialect = PostgresStartTLS(policy: StartTLSPolicy(canTerminate: true, upstreamTLS: true))
        let asked = dialect.clientSent(ByteBuffer(bytes: Self.sslRequest + Self.startup))
        #expect(bytes(asked.forward) == Self.sslRequest)
        #expect(asked.answer == nil)
        #expect(asked.discarded == Self.startup.count)
        #expect(dialect.clientSent(ByteBuffer(string: "more")).discarded == 4)
        let answered = dialect.upstreamSent(ByteBuffer(string: "Sinjected"))
        #expect(text(answered.forward) == "S")
        #expect(answered.discarded == "injected".utf8.count)
        #expect(answered.upgrade == .both)
    }

    @Test func postgresUpstreamThatAnswersNIsARefusalUnderUpstreamTLS() {
        var dialect = PostgresStartTLS(policy: StartTLSPolicy(canTerminate: true, upstreamTLS: true))
        _ = dialect.clientSent(ByteBuffer(bytes: Self.sslRequest))
        let refused = dialect.upstreamSent(ByteBuffer(string: "N"))
        #expect(refused.refusal == "the upstream answered the SSLRequest with N (no TLS)")
        #expect(refused.forward == nil && refused.upgrade == nil)
    }

    @Test func autoChoosesByTheFirstBytes() {
        #expect(StartTLSDialects.detect(firstBytes: ByteBuffer(bytes: Self.sslRequest).readableBytesView, from: .client)?.protocolName == "postgres")
        #expect(StartTLSDialects.detect(firstBytes: ByteBuffer(string: "*1\r\n$4\r\nPING\r\n").readableBytesView, from: .client)?.protocolName == nil)
        // SMTP by the server's greeting, which comes first.
        #expect(StartTLSDialects.detect(firstBytes: ByteBuffer(string: "220 mx.test ESMTP\r\n").readableBytesView, from: .upstream)?.protocolName == "smtp")
    }

    static let ehloReply = "250-mx.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n"

    @Test func smtpStartTLSIsAnsweredByTheProxyAndPipelinedCommandsAreDropped() {
        var dialect = SMTPStartTLS(policy: StartTLSPolicy(canTerminate: true, upstreamTLS: false))
        #expect(text(dialect.upstreamSent(ByteBuffer(string: "220 mx.test ESMTP\r\n")).forward) == "220 mx.test ESMTP\r\n")
        // A line cut by a read waits for its end.
        #expect(dialect.clientSent(ByteBuffer(string: "EHLO c")).forward == nil)
        #expect(text(dialect.clientSent(ByteBuffer(string: "\r\n")).forward) == "EHLO c\r\n")
        #expect(text(dialect.upstreamSent(ByteBuffer(string: Self.ehloReply)).forward) == Self.ehloReply)  // offered as it is
        let step = dialect.clientSent(ByteBuffer(string: "STARTTLS\r\nMAIL FROM:<evil@test>\r\n"))
        #expect(step.forward == nil)
        #expect(text(step.answer) == SMTPStartTLS.ready)
        #expect(step.discarded == "MAIL FROM:<evil@test>\r\n".utf8.count)
        #expect(step.upgrade == .client)
        dialect.clientUpgraded()
        // On TLS, the plain upstream's EHLO reply no longer offers STARTTLS, and asking again gets 454.
        #expect(text(dialect.clientSent(ByteBuffer(string: "EHLO c\r\n")).forward) == "EHLO c\r\n")
        #expect(text(dialect.upstreamSent(ByteBuffer(string: Self.ehloReply)).forward) == "250-mx.test\r\n250 PIPELINING\r\n")
        #expect(text(dialect.clientSent(ByteBuffer(string: "STARTTLS\r\n")).answer) == SMTPStartTLS.notAvailable)
    }

    @Test func smtpWithoutACertificateHidesStartTLSAndRefusesIt() {
        var dialect = SMTPStartTLS(policy: StartTLSPolicy(canTerminate: false, upstreamTLS: false))
        #expect(text(dialect.upstreamSent(ByteBuffer(string: "250-mx.test\r\n250-STARTTLS\r\n250 SIZE 100\r\n")).forward)
                == "250-mx.test\r\n250 SIZE 100\r\n")
        let asked = dialect.clientSent(ByteBuffer(string: "STARTTLS\r\n"))
        #expect(asked.forward == nil && text(asked.answer) == SMTPStartTLS.notAvailable && asked.upgrade == nil)
        // A message body line reading STARTTLS is only text.
        let body = "DATA\r\nSTARTTLS\r\n.\r\nQUIT\r\n"
        #expect(text(dialect.clientSent(ByteBuffer(string: body)).forward) == body)
    }

    @Test func smtpUnderUpstreamTLSSwitchesOnTheUpstreams220AndRefusesOn454() {
        var dialect = SMTPStartTLS(policy: StartTLSPolicy(canTerminate: true, upstreamTLS: true))
        #expect(text(dialect.clientSent(ByteBuffer(string: "STARTTLS\r\n")).forward) == "STARTTLS\r\n")
        #expect(dialect.upstreamSent(ByteBuffer(string: "220 2.0.0 go")).forward == nil)
        let ready = dialect.upstreamSent(ByteBuffer(string: " ahead\r\n250 injected\r\n"))
        #expect(text(ready.forward) == "220 2.0.0 go ahead\r\n" && ready.upgrade == .both && ready.discarded == 14)

        var refused = SMTPStartTLS(policy: StartTLSPolicy(canTerminate: true, upstreamTLS: true))
        _ = refused.clientSent(ByteBuffer(string: "STARTTLS\r\n"))
        #expect(refused.upstreamSent(ByteBuffer(string: "454 4.7.0 TLS not available\r\n")).refusal
                == "the upstream answered STARTTLS with \"454 4.7.0 TLS not available\"")
    }
}
