// Wiring/: builds every listener from the configuration into one ServiceGroup; nothing here decides a request.
import NIOCore
import ServiceLifecycle

extension Channel {
    /// Returns when the channel has closed: it is closed at graceful shutdown, and at once when the task is
    /// cancelled (the service group cancels every service when one fails, so none may keep the process half-alive).
    func closeOnShutdownOrCancellation() async {
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                try? await closeFuture.get()
            } onGracefulShutdown: {
                self.close(promise: nil)
            }
        } onCancel: {
            self.close(promise: nil)
        }
    }
}
