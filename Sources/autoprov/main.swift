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
// Blocks of 256 KiB and more (a large upload, a firmware file) mapped on their own and unmapped when freed, and a
// heap's free top over 1 MiB given back. glibc's default raises the mapping threshold to the largest block freed
// (up to 32 MiB), so after two 16 MiB TFTP uploads the next such blocks came from the heaps and stayed there:
// scripts/bench's peak went from 110 to 96 MB with the thresholds fixed, requests per second unchanged.
_ = clinux_fix_malloc_thresholds(256 * 1024, 1024 * 1024)
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
