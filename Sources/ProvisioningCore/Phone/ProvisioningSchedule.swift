/// When a phone provisions next on its own (R8.3): repeatedly, weekly and flexible modes.
///
/// Time is the phone's local wall-clock time in seconds since 1970-01-01 00:00 (a Thursday), so the day and
/// weekday need no time zone. The phone draws a random moment inside a window; this type returns the window.
public struct ProvisioningSchedule: Sendable, Hashable {
    /// The settings that drive the schedule, with the Guide's defaults where it gives them.
    public enum Key {
        public static let repeatEnable = "static.auto_provision.repeat.enable"
        public static let repeatMinutes = "static.auto_provision.repeat.minutes"
        public static let weeklyEnable = "static.auto_provision.weekly.enable"
        public static let weeklyDays = "static.auto_provision.weekly.dayofweek"
        public static let weeklyBegin = "static.auto_provision.weekly.begin_time"
        public static let weeklyEnd = "static.auto_provision.weekly.end_time"
        public static let weeklyInterval = "static.auto_provision.weekly_upgrade_interval"
        public static let flexibleEnable = "static.auto_provision.flexible.enable"
        public static let flexibleInterval = "static.auto_provision.flexible.interval"
        public static let flexibleBegin = "static.auto_provision.flexible.begin_time"
        public static let flexibleEnd = "static.auto_provision.flexible.end_time"
    }

    /// A mode of R8.3 that schedules provisionings.
    public enum Mode: String, Sendable, Hashable, Codable {
        case repeatedly, weekly, flexible
    }

    /// The span in which the phone provisions next: at a random moment from `earliest` to `latest`.
    public struct Window: Sendable, Hashable, Codable {
        public var mode: Mode
        /// Seconds since 1970 in the phone's local time.
        public var earliest: Int64
        public var latest: Int64
    }

    static let day: Int64 = 86_400
    static let week: Int64 = 7 * day

    /// The settings as the phone has them (static keys included).
    public let settings: [String: String]

    public init(settings: [String: String]) {
        self.settings = settings
    }

    /// The next window of every enabled mode, for a phone that last provisioned (or booted) at `now`.
    public func windows(mac: MACAddress, after now: Int64) -> [Window] {
        var result: [Window] = []
        if flag(Key.repeatEnable) {
            let minutes = Int64(number(Key.repeatMinutes, default: 1440, in: 1...43_200))
            result.append(Window(mode: .repeatedly, earliest: now + minutes * 60, latest: now + minutes * 60))
        }
        if flag(Key.weeklyEnable), let window = weeklyWindow(after: now) { result.append(window) }
        if flag(Key.flexibleEnable) { result.append(flexibleWindow(mac: mac, after: now)) }
        return result
    }

    /// The earliest of ``windows(mac:after:)``, or nil when no scheduled mode is on.
    public func next(mac: MACAddress, after now: Int64) -> Window? {
        windows(mac: mac, after: now).min { $0.earliest < $1.earliest }
    }

    /// Weekly: on the selected days (0 = Sunday) in the time window; with an interval of N weeks, on one random
    /// selected day of the week N weeks on.
    func weeklyWindow(after now: Int64) -> Window? {
        let days = Set((settings[Key.weeklyDays] ?? "0123456").compactMap { $0.wholeNumberValue }.filter { $0 < 7 })
        guard !days.isEmpty else { return nil }
        let span = timeSpan(begin: time(Key.weeklyBegin) ?? 0, end: time(Key.weeklyEnd) ?? 0,
                            wholeDayWhenEqual: true)
        let interval = Int64(number(Key.weeklyInterval, default: 0, in: 0...12))
        let today = ProvisioningSchedule.floorDiv(now, ProvisioningSchedule.day)
        if interval == 0 {
            for offset in Int64(0)...7 {
                let date = today + offset
                let start = date * ProvisioningSchedule.day + span.begin
                if days.contains(ProvisioningSchedule.weekday(date)), start > now {
                    return Window(mode: .weekly, earliest: start, latest: date * ProvisioningSchedule.day + span.end)
                }
            }
            return nil
        }
        let weekStart = today - Int64(ProvisioningSchedule.weekday(today)) + interval * 7
        let chosen = (0..<7).filter { days.contains($0) }
        return Window(mode: .weekly,
                      earliest: (weekStart + Int64(chosen.first!)) * ProvisioningSchedule.day + span.begin,
                      latest: (weekStart + Int64(chosen.last!)) * ProvisioningSchedule.day + span.end)
    }

    /// Flexible: one day in every period of `interval` days, fixed by the MAC; a random time in the window.
    func flexibleWindow(mac: MACAddress, after now: Int64) -> Window {
        let interval = Int64(number(Key.flexibleInterval, default: 30, in: 1...1000))
        let begin = time(Key.flexibleBegin) ?? 2 * 3600
        let span = timeSpan(begin: begin, end: time(Key.flexibleEnd) ?? begin, wholeDayWhenEqual: false)
        let offset = Int64(ProvisioningSchedule.dayInPeriod(mac: mac, interval: Int(interval)))
        let today = ProvisioningSchedule.floorDiv(now, ProvisioningSchedule.day)
        var date = ProvisioningSchedule.floorDiv(today, interval) * interval + offset
        if date * ProvisioningSchedule.day + span.begin <= now { date += interval }
        return Window(mode: .flexible, earliest: date * ProvisioningSchedule.day + span.begin,
                      latest: date * ProvisioningSchedule.day + span.end)
    }

    /// The day (0 ..< interval) in each flexible period on which a phone provisions, from its MAC alone, so it
    /// survives reboots (R8.3). Yealink's function is not public: this is FNV-1a over the canonical MAC, mixed
    /// by the SplitMix64 finalizer, modulo the interval. Stable across versions of autoprov.
    public static func dayInPeriod(mac: MACAddress, interval: Int) -> Int {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in mac.canonical.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        hash ^= hash >> 30
        hash &*= 0xBF58_476D_1CE4_E5B9
        hash ^= hash >> 27
        hash &*= 0x94D0_49BB_1331_11EB
        hash ^= hash >> 31
        return Int(hash % UInt64(max(interval, 1)))
    }

    /// 0 = Sunday; day 0 (1970-01-01) was a Thursday.
    static func weekday(_ date: Int64) -> Int {
        Int(((date % 7) + 7 + 4) % 7)
    }

    static func floorDiv(_ value: Int64, _ divisor: Int64) -> Int64 {
        value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
    }

    /// Seconds from midnight to the window's begin and end; an end before the begin runs into the next day.
    private func timeSpan(begin: Int64, end: Int64, wholeDayWhenEqual: Bool) -> (begin: Int64, end: Int64) {
        if end == begin { return (begin, wholeDayWhenEqual ? begin + ProvisioningSchedule.day - 1 : begin) }
        return (begin, end > begin ? end : end + ProvisioningSchedule.day)
    }

    private func flag(_ key: String) -> Bool {
        settings[key] == "1"
    }

    private func number(_ key: String, default value: Int, in range: ClosedRange<Int>) -> Int {
        guard let text = settings[key], let number = Int(text) else { return value }
        return min(max(number, range.lowerBound), range.upperBound)
    }

    /// `HH:MM` as seconds after midnight; nil when blank or not a time.
    private func time(_ key: String) -> Int64? {
        let parts = (settings[key] ?? "").split(separator: ":")
        guard parts.count == 2, let hours = Int64(parts[0]), let mins = Int64(parts[1]),
              (0..<24).contains(hours), (0..<60).contains(mins)
        else { return nil }
        return (hours * 60 + mins) * 60
    }
}
