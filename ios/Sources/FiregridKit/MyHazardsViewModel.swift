// My hazards, as android/model/MyHazardsModel.kt: the user's cases across premises with their
// deadlines (overdue / due today / this week from the store's reminders, offline) and the
// steps their role can take now. The core decides (nothing is written when refused).
import Foundation
import FiregridFFI

public enum Due: Equatable, Sendable { case overdue, today, thisWeek, later, none }

public enum ActionKind: CaseIterable, Sendable {
    case file, dispatch, reportFix, reportHandling, verify, failVerification, close, reopen, setDeadline
}

public struct HazardRow: Identifiable, Equatable {
    public let id: String
    public let premisesId: String
    public let title: String
    public let status: HazardStatus
    public let statusText: String
    public let deadlineMs: Int64?
    public let due: Due
    public let deadlineText: String
    public let actions: [ActionKind]
}

private let dayMs: Int64 = 86_400_000

@MainActor
public final class MyHazardsViewModel: ObservableObject {
    @Published public private(set) var rows: [HazardRow] = []
    @Published public private(set) var status: HazardStatus?
    @Published public private(set) var overdue = 0
    @Published public private(set) var dueToday = 0
    @Published public private(set) var departments: [Department] = []
    @Published public private(set) var errorText: String?
    @Published public private(set) var notice: String?

    private let store: FiregridStore
    private let texts: Texts
    private let addPhoto: @Sendable (Data) throws -> PhotoRef
    private let now: @Sendable () -> Int64
    private let utcOffsetMinutes: @Sendable (Int64) -> Int32

    public init(store: FiregridStore, texts: Texts = Texts(), addPhoto: @escaping @Sendable (Data) throws -> PhotoRef,
                now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) },
                utcOffsetMinutes: @escaping @Sendable (Int64) -> Int32 = { ms in
                    Int32(TimeZone.current.secondsFromGMT(for: Date(timeIntervalSince1970: Double(ms) / 1000)) / 60)
                }) {
        self.store = store
        self.texts = texts
        self.addPhoto = addPhoto
        self.now = now
        self.utcOffsetMinutes = utcOffsetMinutes
    }

    public func refresh(status: HazardStatus?? = nil) async {
        if let status { self.status = status }
        let store = self.store, wanted = self.status, t = now(), offset = utcOffsetMinutes(t)
        do {
            let (role, reminders, list, departments) = try await offMain {
                let role = try store.currentUser()?.role
                let reminders = try store.hazardReminders(nowMs: t, utcOffsetMinutes: offset)
                let list = try store.myHazards(status: wanted, limit: nil, offset: nil)
                let office = role == .streetOffice || role == .admin
                return (role, reminders, list, office ? try store.departments() : [])
            }
            var due: [String: Due] = [:]
            reminders.dueThisWeek.forEach { due[$0.id] = .thisWeek }
            reminders.dueToday.forEach { due[$0.id] = .today }
            reminders.overdue.forEach { due[$0.id] = .overdue }
            rows = list.map { row($0, role: role, due: due, now: t, offset: offset) }
            overdue = reminders.overdue.count
            dueToday = reminders.dueToday.count
            self.departments = departments
            errorText = nil
        } catch {
            errorText = texts.describe(error)
        }
    }

    private func row(_ h: HazardSummary, role: Role?, due: [String: Due], now: Int64, offset: Int32) -> HazardRow {
        let open = ![.closed, .verified, .handled].contains(h.status)
        let kind: Due
        if let d = h.deadlineMs { kind = due[h.id] ?? (open && d < now ? .overdue : .later) } else { kind = .none }
        return HazardRow(id: h.id, premisesId: h.premisesId, title: texts.of(h.title), status: h.status,
                         statusText: texts.status(h.status), deadlineMs: h.deadlineMs, due: kind,
                         deadlineText: deadlineText(h.deadlineMs, kind, now: now, offset: offset),
                         actions: Self.actions(role: role, status: h.status))
    }

    private func deadlineText(_ deadline: Int64?, _ due: Due, now: Int64, offset: Int32) -> String {
        guard let deadline else { return texts.get(.noDeadline) }
        let shift = Int64(offset) * 60_000
        func day(_ ms: Int64) -> Int64 { Int64((Double(ms + shift) / Double(dayMs)).rounded(.down)) }
        let days = day(deadline) - day(now)
        if due == .overdue { return texts.get(.overdue, max(1, -days)) }
        if due == .today || days == 0 { return texts.get(.dueToday) }
        return texts.get(.dueInDays, days)
    }

    /// Takes one step of a case's closed loop; the list reloads after it.
    public func act(hazardId: String, action: HazardAction) async {
        let store = self.store
        do {
            _ = try await offMain { try store.hazardAction(hazardId: hazardId, action: action) }
            await refresh()
            notice = texts.get(.actionDone)
        } catch {
            errorText = texts.describe(error)
            notice = nil
        }
    }

    private func photos(_ images: [Data]) async -> [PhotoRef]? {
        let addPhoto = self.addPhoto
        do { return try await offMain { try images.map(addPhoto) } } catch {
            errorText = texts.describe(error)
            return nil
        }
    }

    public func reportFix(hazardId: String, images: [Data], note: String?) async {
        guard let photos = await photos(images) else { return }
        await act(hazardId: hazardId, action: .reportFix(photos: photos, note: note))
    }

    public func reportHandling(hazardId: String, images: [Data], note: String) async {
        guard let photos = await photos(images) else { return }
        await act(hazardId: hazardId, action: .reportHandling(photos: photos, note: note))
    }

    public func verify(hazardId: String, images: [Data]) async {
        guard let photos = await photos(images) else { return }
        await act(hazardId: hazardId, action: .verify(photos: photos, note: nil))
    }

    public func name(_ text: Localized) -> String { texts.of(text) }
    public func statusText(_ status: HazardStatus) -> String { texts.status(status) }

    /// The steps a role may take in a status (ARCHITECTURE.md, the role × transition table).
    public nonisolated static func actions(role: Role?, status: HazardStatus) -> [ActionKind] {
        switch role {
        case .streetOffice?, .admin?:
            switch status {
            case .discovered: return [.file]
            case .filed: return [.dispatch, .setDeadline]
            case .dispatched: return [.setDeadline]
            case .handled: return [.verify, .failVerification]
            case .verified: return [.close]
            case .closed: return []
            }
        case .department?: return status == .dispatched ? [.reportHandling] : []
        case .gridPatroller?, .residentialWorker?, .stationCrew?:
            switch status {
            case .discovered, .filed: return [.reportFix]
            case .handled, .verified, .closed: return [.reopen]
            case .dispatched: return []
            }
        case nil: return []
        }
    }
}
