import ArgumentParser
#if os(Linux)
import CLinuxShims
#endif
import NIOCore
import NIOPosix

#if os(Linux)
// Two malloc arenas a core, set before any thread starts, instead of glibc's eight: each arena keeps the memory its
// threads freed. Measured once each at 100,000 devices (scripts/bench-inventory), serve's peak under a full-fleet
// storm went from 259 to 249 MB with the same request rate.
_ = clinux_limit_arenas(Int32(2 * System.coreCount))
#endif

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
