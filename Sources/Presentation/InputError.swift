/// Input a person typed that cannot be read (a time, a kind, a filter value), worded for them:
/// the CLI prints it as one line (exit 2), the web viewer answers it with 400.
public struct InputError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
