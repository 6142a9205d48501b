import ArgumentParser
import NIOCore
import NIOPosix

// Run Swift concurrency on NIO's event loops, so a request does not hop between thread pools. This must come
// before any other concurrency code, which is why this file replaces ArgumentParser's @main.
_ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

do {
    var command = try Autoprov.parseAsRoot()
    if let serve = command as? Serve {
        try await serve.serve()
    } else {
        try command.run()
    }
} catch {
    Autoprov.exit(withError: error)
}
