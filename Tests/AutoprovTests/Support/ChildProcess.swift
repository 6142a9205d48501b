import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A child process that outlived its deadline: it was killed with its process group, and the test fails naming it
/// instead of hanging the suite.
struct ChildTimedOut: Error, CustomStringConvertible {
    let command: [String]
    let seconds: Double
    var description: String { "\(command.joined(separator: " ")) did not finish within \(Int(seconds)) s and was killed" }
}

/// Starts every process a test runs (servers and clients) so that none outlives the test runner:
/// - Foundation puts each child in a process group of its own, so a kill reaches what the child started too;
/// - `setpriv --pdeathsig KILL` has the kernel kill the child when the runner dies (a crash, a kill on timeout, ^C).
///
/// The parent-death signal follows the *thread* that started the child, so every child is started from one thread
/// that lives as long as the runner; a pool thread that ended after its test would kill a server still in use.
enum Children {
    private static let setpriv = "/usr/bin/setpriv"
    private static let queue = Mutex<[@Sendable () -> Void]>([])
    private static let wakeup = DispatchSemaphore(value: 0)
    private static let spawnerStarted: Bool = {
        let thread = Thread {
            while true {
                wakeup.wait()
                let jobs = queue.withLock { jobs in
                    defer { jobs.removeAll() }
                    return jobs
                }
                jobs.forEach { $0() }
            }
        }
        thread.name = "test child spawner"
        thread.start()
        return true
    }()

    /// Runs `process` (configured, not started) under the parent-death signal; as `user` (and that user's group)
    /// when given, as a server is deployed. One `setpriv` does both: it sets the signal after changing the user,
    /// which would otherwise clear it.
    static func start(_ process: Process, as user: (name: String, group: String)? = nil) throws {
        if FileManager.default.isExecutableFile(atPath: setpriv), let executable = process.executableURL {
            let identity = user.map { ["--reuid=\($0.name)", "--regid=\($0.group)", "--clear-groups"] } ?? []
            process.arguments = identity + ["--pdeathsig", "KILL", "--", executable.path] + (process.arguments ?? [])
            process.executableURL = URL(fileURLWithPath: setpriv)
        } else if user != nil {
            throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "setpriv is needed to run as another user"])
        }
        _ = spawnerStarted
        let started = DispatchSemaphore(value: 0)
        let failure = Mutex<(any Error)?>(nil)
        let child = process
        queue.withLock {
            $0.append {
                do { try child.run() } catch { failure.withLock { $0 = error } }
                started.signal()
            }
        }
        wakeup.signal()
        started.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }
}

extension Process {
    /// The command as the test wrote it (without the `setpriv` wrapper).
    var commandLine: [String] {
        let all = [executableURL?.path ?? "?"] + (arguments ?? [])
        guard let separator = all.firstIndex(of: "--"), all.first?.hasSuffix("setpriv") == true else { return all }
        return Array(all[(separator + 1)...])
    }

    /// Starts the process and waits for it for at most `seconds`; past that its whole process group is killed and
    /// ``ChildTimedOut`` is thrown, so a hung client ends the test at that call.
    func runAndWait(timeout seconds: Double) throws {
        let done = DispatchSemaphore(value: 0)
        terminationHandler = { _ in done.signal() }
        try Children.start(self)
        if done.wait(timeout: .now() + seconds) == .timedOut {
            killGroup()
            done.wait()
            throw ChildTimedOut(command: commandLine, seconds: seconds)
        }
    }

    /// Waits at most `seconds` for a process started elsewhere; past that `beforeKill` is called with its pid and its
    /// process group is killed. True when it ended on its own.
    @discardableResult
    func finish(within seconds: Double, beforeKill: (Int32) -> Void = { _ in }) -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while isRunning, ContinuousClock.now < deadline { usleep(10_000) }
        guard isRunning else { return true }
        beforeKill(processIdentifier)
        killGroup()
        waitUntilExit()
        return false
    }

    /// SIGKILL to the child and everything in its process group.
    func killGroup() {
        guard processIdentifier > 0 else { return }
        kill(-processIdentifier, SIGKILL)
        kill(processIdentifier, SIGKILL)
    }
}

/// Polls `condition` every 20 ms for at most `seconds`: tests wait for a state, never for a fixed time.
@discardableResult
func eventually(within seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    repeat {
        if try condition() { return true }
        usleep(20_000)
    } while ContinuousClock.now < deadline
    return try condition()
}
