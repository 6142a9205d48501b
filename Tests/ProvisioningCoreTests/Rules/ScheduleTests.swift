@testable import ProvisioningCore
import Testing

@Suite("Schedules (R8.3)", .timeLimit(.minutes(2)))
struct ScheduleTests {
    /// 2026-11-27 00:00, a Friday, in the phone's local time.
    static let friday: Int64 = 1_795_737_600
    static let hour: Int64 = 3600
    static let day: Int64 = 86400
    static let mac = try! MACAddress("00156574B150")

    func windows(_ settings: [String: String], after now: Int64 = friday + 10 * hour) -> [ProvisioningSchedule.Window] {
        ProvisioningSchedule(settings: settings).windows(mac: Self.mac, after: now)
    }

    @Test("R8.3: no mode on, no scheduled provisioning")
    func none() {
        #expect(windows([:]).isEmpty)
        #expect(ProvisioningSchedule(settings: [:]).next(mac: Self.mac, after: 0) == nil)
    }

    @Test("R8.3: repeatedly, every static.auto_provision.repeat.minutes (Guide default 1440)")
    func repeatedly() {
        let now = Self.friday + 10 * Self.hour
        #expect(windows(["static.auto_provision.repeat.enable": "1"]).first?.earliest == now + Self.day)
        #expect(windows(["static.auto_provision.repeat.enable": "1", "static.auto_provision.repeat.minutes": "30"])
            .first?.earliest == now + 1800)
    }

    @Test("R8.3: weekly on the selected days in the time window (0 = Sunday)")
    func weekly() throws {
        let settings = [
            "static.auto_provision.weekly.enable": "1", "static.auto_provision.weekly.dayofweek": "1",
            "static.auto_provision.weekly.begin_time": "02:00", "static.auto_provision.weekly.end_time": "03:00",
        ]
        let window = try #require(windows(settings).first)
        // The Monday after Friday 2026-11-27 is 2026-11-30.
        #expect(window.earliest == Self.friday + 3 * Self.day + 2 * Self.hour)
        #expect(window.latest == Self.friday + 3 * Self.day + 3 * Self.hour)
        #expect(ProvisioningSchedule.weekday(Self.friday / Self.day) == 5)
    }

    @Test("R8.3: weekly with an interval of N weeks picks a random selected day N weeks on")
    func weeklyInterval() throws {
        let settings = [
            "static.auto_provision.weekly.enable": "1", "static.auto_provision.weekly.dayofweek": "15",
            "static.auto_provision.weekly.begin_time": "22:00", "static.auto_provision.weekly.end_time": "01:00",
            "static.auto_provision.weekly_upgrade_interval": "4",
        ]
        let window = try #require(windows(settings).first)
        let sunday = Self.friday - 5 * Self.day  // the week of 2026-11-27 starts on Sunday 2026-11-22
        #expect(window.earliest == sunday + 28 * Self.day + 1 * Self.day + 22 * Self.hour)
        #expect(window.latest == sunday + 28 * Self.day + 5 * Self.day + 25 * Self.hour)
    }

    @Test("R8.3: flexible: the day comes from the MAC, the time is drawn in the window")
    func flexible() throws {
        let settings = [
            "static.auto_provision.flexible.enable": "1", "static.auto_provision.flexible.interval": "30",
            "static.auto_provision.flexible.begin_time": "01:00", "static.auto_provision.flexible.end_time": "06:00",
        ]
        let window = try #require(windows(settings).first)
        // The documented function (FNV-1a over "00156574b150", the SplitMix64 finalizer, modulo 30), computed by a
        // separate implementation: day 7 of each 30-day period, counted from 1970-01-01.
        #expect(ProvisioningSchedule.dayInPeriod(mac: Self.mac, interval: 30) == 7)
        #expect(ProvisioningSchedule.dayInPeriod(mac: Self.mac, interval: 7) == 6)
        let day = window.earliest / Self.day
        #expect(day % 30 == 7)
        #expect(window.earliest % Self.day == 1 * Self.hour)
        #expect(window.latest - window.earliest == 5 * Self.hour)
        #expect(window.earliest > Self.friday + 10 * Self.hour)
        #expect(window.earliest <= Self.friday + 10 * Self.hour + 30 * Self.day)
        // The same MAC gets the same day after a reboot; the next window is one interval later.
        let again = try #require(windows(settings, after: window.earliest).first)
        #expect(again.earliest == window.earliest + 30 * Self.day)
    }

    @Test("R8.3: flexible end time blank means exactly the begin time; earlier runs into the next day")
    func flexibleEnd() throws {
        var settings = ["static.auto_provision.flexible.enable": "1", "static.auto_provision.flexible.interval": "1",
                        "static.auto_provision.flexible.begin_time": "23:00"]
        let exact = try #require(windows(settings).first)
        #expect(exact.earliest == exact.latest)
        settings["static.auto_provision.flexible.end_time"] = "02:00"
        let overnight = try #require(windows(settings).first)
        #expect(overnight.latest - overnight.earliest == 3 * Self.hour)
    }

    @Test("R8.3: the MAC-to-day function spreads 10,000 sequential MACs evenly over a 30-day period")
    func evenDistribution() {
        let interval = 30
        var counts = Array(repeating: 0, count: interval)
        for index in 0..<10_000 {
            let mac = MACAddress(octets: [0x00, 0x15, 0x65, UInt8(index >> 16 & 0xFF), UInt8(index >> 8 & 0xFF),
                                          UInt8(index & 0xFF)])
            counts[ProvisioningSchedule.dayInPeriod(mac: mac, interval: interval)] += 1
        }
        // Chi-square with 29 degrees of freedom; 58.3 is the 0.1% critical value.
        let expected = 10_000.0 / Double(interval)
        let chiSquare = counts.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
        #expect(chiSquare < 58.3, "counts \(counts)")
        #expect(counts.allSatisfy { $0 > 0 })
    }

    @Test("R8.3: the earliest enabled mode is the next provisioning")
    func earliest() {
        let schedule = ProvisioningSchedule(settings: [
            "static.auto_provision.repeat.enable": "1", "static.auto_provision.repeat.minutes": "60",
            "static.auto_provision.flexible.enable": "1",
        ])
        #expect(schedule.next(mac: Self.mac, after: Self.friday)?.mode == .repeatedly)
    }
}
