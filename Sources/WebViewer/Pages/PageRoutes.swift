import Hummingbird

/// The pages (fixed HTML shells) and their stylesheet and scripts.
struct PageRoutes {
    let store: ViewerStore

    func add(to router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in PageShell.response(.list) }
        router.get("/stats") { _, _ in PageShell.response(.stats) }
        // An unknown session is a 404 page at once, not a shell that fails later.
        router.get("/sessions/:id") { _, context in
            let id = try context.sessionID()
            _ = try await store.read { try await $0.session(id) }
            return PageShell.response(.session)
        }
        router.get("/replays/:id") { _, context in
            let id = try context.sessionID()
            _ = try await store.read { try await $0.session(id) }
            return PageShell.response(.replay)
        }
        // Browsers ask for it on their own; there is none, and that is not an error.
        router.get("/favicon.ico") { _, _ in Response(status: .noContent) }
        router.get("/assets/:name") { _, context in
            guard let name = context.parameters.get("name"), let asset = Assets.files[name] else {
                throw ViewerError.notFound("no such file")
            }
            return Response(status: .ok, headers: [.contentType: asset.contentType],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: asset.text)))
        }
    }
}
