import Synchronization

/// The bytes of uploads received and not yet stored, from all clients together (`[limits] upload_mb`, S6): each
/// upload is held in memory until it is whole, so without a bound a few thousand connections sending large bodies
/// slowly would hold gigabytes. Past the budget a new byte is refused the protocol's own way (HTTP 503 with
/// Retry-After, TFTP error 3, FTP 452), and the phone tries again later; what was held is given back at once.
public final class UploadBudget: Sendable {
    /// The most bytes held at once.
    public let limit: Int
    private let held = Atomic<Int>(0)
    private let metrics: ServerMetrics?

    public init(limit: Int, metrics: ServerMetrics? = nil) {
        self.limit = limit
        self.metrics = metrics
    }

    /// Bytes held now.
    public var heldBytes: Int { held.load(ordering: .relaxed) }

    /// A share for one upload, holding nothing yet.
    public func reservation() -> UploadReservation {
        UploadReservation(budget: self)
    }

    /// Takes `bytes` more; false (and nothing taken) when that would pass the limit.
    fileprivate func take(_ bytes: Int) -> Bool {
        guard held.wrappingAdd(bytes, ordering: .relaxed).newValue <= limit else {
            held.wrappingSubtract(bytes, ordering: .relaxed)
            metrics?.event("upload-budget-full")
            return false
        }
        return true
    }

    fileprivate func giveBack(_ bytes: Int) {
        held.wrappingSubtract(bytes, ordering: .relaxed)
    }
}

/// One upload's share of an ``UploadBudget``: it grows with the body received, and is given back when the upload is
/// stored or dropped (when the last reference to it goes), whatever ended it.
public final class UploadReservation: Sendable {
    private let budget: UploadBudget
    private let bytes = Atomic<Int>(0)

    fileprivate init(budget: UploadBudget) {
        self.budget = budget
    }

    /// Bytes this upload holds.
    public var heldBytes: Int { bytes.load(ordering: .relaxed) }

    /// Holds `total` bytes for this upload in all (what it has received so far); false when the budget has no room
    /// for the growth, which is then not held.
    public func hold(_ total: Int) -> Bool {
        let growth = total - bytes.load(ordering: .relaxed)
        guard growth > 0 else { return true }
        guard budget.take(growth) else { return false }
        bytes.wrappingAdd(growth, ordering: .relaxed)
        return true
    }

    /// Gives back what this upload holds (it is stored, or refused); later calls to ``hold(_:)`` take anew.
    public func release() {
        budget.giveBack(bytes.exchange(0, ordering: .relaxed))
    }

    deinit { release() }
}
