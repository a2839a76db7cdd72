// Sync status, as android/model/SyncStatusModel.kt: runs a sync off the main actor with a
// progress bar (determinate while sending, indeterminate while pages come in), the last result
// and refusals, and what waits to be sent. The BGTaskScheduler task calls `sync()` too.
import Foundation
import FiregridFFI

/// Receives progress on the sync's thread and hands it to the main actor.
private final class ProgressRelay: SyncProgressListener, @unchecked Sendable {
    let deliver: @Sendable (SyncProgress) -> Void
    init(_ deliver: @escaping @Sendable (SyncProgress) -> Void) { self.deliver = deliver }
    func onProgress(progress: SyncProgress) { deliver(progress) }
}

@MainActor
public final class SyncStatusViewModel: ObservableObject {
    @Published public private(set) var running = false
    /// 0…1 while sending what waited; nil while unknown (indeterminate).
    @Published public private(set) var progress: Double?
    @Published public private(set) var unsynced: UInt64 = 0
    @Published public private(set) var lastSync: Date?
    @Published public private(set) var lastResult: String
    @Published public private(set) var refusals: [String] = []
    @Published public private(set) var errorText: String?
    /// The last failure may pass by itself (offline, busy server): retry later.
    @Published public private(set) var retryable = false

    private let store: FiregridStore
    private let session: Session
    private let texts: Texts

    public init(store: FiregridStore, session: Session, texts: Texts = Texts()) {
        self.store = store
        self.session = session
        self.texts = texts
        lastResult = texts.get(.neverSynced)
    }

    public var unsyncedText: String { texts.get(.unsynced, unsynced) }

    public func refresh() async {
        let store = self.store
        if let n = try? await offMain({ try store.unsyncedCount() }) { unsynced = n }
    }

    /// Runs one sync off the main actor; returns whether it succeeded.
    @discardableResult
    public func sync() async -> Bool {
        guard !running else { return false }
        let store = self.store, session = self.session
        let start = (try? await offMain { try store.unsyncedCount() }) ?? 0
        running = true
        progress = start > 0 ? 0 : nil
        errorText = nil
        lastResult = texts.get(.syncing)
        let relay = ProgressRelay { [weak self] p in
            Task { @MainActor in
                guard let self else { return }
                self.unsynced = p.unsynced
                let sent = start == 0 ? 1.0 : 1.0 - Double(p.unsynced) / Double(start)
                self.progress = p.more ? nil : min(max(sent, 0), 1)
            }
        }
        defer { running = false }
        do {
            let (report, left) = try await offMain { () throws -> (SyncReport, UInt64) in
                guard let (client, token) = try session.current() else { throw FiregridError.NotSignedIn }
                let report = try store.sync(client: client, accessToken: token, listener: relay)
                return (report, try store.unsyncedCount())
            }
            progress = 1
            unsynced = left
            lastSync = Date()
            var result = texts.get(.syncDone, report.sentChanges, report.receivedChanges)
            if !report.refused.isEmpty { result += "; " + texts.get(.syncRefused, report.refused.count) }
            lastResult = result
            refusals = report.refused.map { "\($0.recordId): \($0.reason)" }
            retryable = false
            return true
        } catch {
            progress = nil
            errorText = texts.describe(error)
            switch error as? FiregridError {
            case .Network?, .ServerBusy?, .AlreadySyncing?: retryable = true
            case let .Server(status, _)?: retryable = status >= 500
            default: retryable = false
            }
            return false
        }
    }
}
