/// Line by line, how one text became another: the lines both keep, and those removed and added, in order (a longest
/// common subsequence). Texts too long to compare in bounded memory show as all removed, then all added.
enum LineDiff {
    enum Kind: String { case same, removed, added }

    /// The most cells (lines × lines) the table may have: 16 MB of counts.
    static let maximumCells = 4_000_000

    static func lines(_ text: String) -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    static func diff(_ old: [String], _ new: [String]) -> [(kind: Kind, text: String)] {
        let (n, m) = (old.count, new.count)
        guard n * m <= maximumCells else { return old.map { (.removed, $0) } + new.map { (.added, $0) } }
        // common[i][j]: the longest common subsequence of old[i...] and new[j...].
        var common = [Int32](repeating: 0, count: (n + 1) * (m + 1))
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                common[i * (m + 1) + j] = old[i] == new[j] ? common[(i + 1) * (m + 1) + j + 1] + 1
                    : max(common[(i + 1) * (m + 1) + j], common[i * (m + 1) + j + 1])
            }
        }
        var result: [(kind: Kind, text: String)] = []
        var (i, j) = (0, 0)
        while i < n || j < m {
            if i < n, j < m, old[i] == new[j] {
                result.append((.same, old[i]))
                (i, j) = (i + 1, j + 1)
            } else if i < n, j == m || common[(i + 1) * (m + 1) + j] >= common[i * (m + 1) + j + 1] {
                result.append((.removed, old[i]))
                i += 1
            } else {
                result.append((.added, new[j]))
                j += 1
            }
        }
        return result
    }
}
