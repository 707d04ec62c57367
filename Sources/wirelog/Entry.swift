import WirelogCLI

@main
enum Entry {
    static func main() async {
        await Wirelog.main()
    }
}
