import Dispatch
import Foundation

/// `items.map(transform)` on every core: rendering a fleet's files is independent work per device.
func parallelMap<Item: Sendable, Result: Sendable>(_ items: [Item], _ transform: @Sendable (Item) -> Result) -> [Result] {
    let workers = min(ProcessInfo.processInfo.activeProcessorCount, max(items.count / 256, 1))
    guard workers > 1 else { return items.map(transform) }
    let output = UnsafeMutableBufferPointer<Result>.allocate(capacity: items.count)
    defer { output.deallocate() }
    let slots = Slots(base: output.baseAddress!)
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
        // Each worker writes its own stride of slots, each once.
        for index in stride(from: worker, to: items.count, by: workers) {
            (slots.base + index).initialize(to: transform(items[index]))
        }
    }
    let results = Array(output)
    _ = output.deinitialize()
    return results
}

/// The output slots the workers of ``parallelMap(_:_:)`` fill, each slot by one worker.
private struct Slots<Result>: @unchecked Sendable {
    let base: UnsafeMutablePointer<Result>
}
