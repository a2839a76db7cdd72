// Sync status, as android/model/SyncStatusModel.kt: runs a sync off the main actor — the
// documents first, then the photo sync (a photo is accepted once its record is on the server) —
// with a progress bar each (records; photos and bytes), the last results and refusals (records
// and photos, reasons in the user's language), and what waits to be sent. The BGTaskScheduler
// task calls `sync()` too.
import Foundation
import FiregridFFI

@MainActor
public final class SyncStatusViewModel: ObservableObject {
    @Published public private(set) var running = false
    /// 0…1 while sending what waited; nil while unknown (indeterminate).
    @Published public private(set) var progress: Double?
    @Published public private(set) var unsynced: UInt64 = 0
    @Published public private(set) var lastSync: Date?
    @Published public private(set) var lastResult: String
    @Published public private(set) var refusals: [String] = []
    /// Photos waiting for upload.
    @Published public private(set) var photosWaiting: UInt64 = 0
    /// The photo sync's progress while it runs, nil otherwise.
    @Published public private(set) var photoProgress: PhotoSyncProgress?
    /// The photo sync's last result in words ("" before one ran).
    @Published public private(set) var photoResult = ""
    /// Photos whose last upload the server refused (still queued): "sha256 prefix: reason".
    @Published public private(set) var photoRefusals: [String] = []
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
    public var photosWaitingText: String { texts.get(.photosWaiting, photosWaiting) }

    /// 0…1 by bytes while photos upload; nil when there is nothing to measure.
    public var photoFraction: Double? {
        guard let p = photoProgress, p.bytesTotal > 0 else { return nil }
        return min(max(Double(p.bytesDone) / Double(p.bytesTotal), 0), 1)
    }

    public var photoProgressText: String {
        guard let p = photoProgress else { return "" }
        return texts.get(.photoProgress, p.photosDone, p.photosTotal, (p.bytesDone + 1023) / 1024, (p.bytesTotal + 1023) / 1024)
    }

    private nonisolated static func refusalTexts(_ store: FiregridStore, _ texts: Texts) throws -> [String] {
        try store.photoRefusals().map { "\($0.sha256.prefix(12)): \(texts.of($0.label))" }
    }

    /// Reads what waits to be sent and the photos refused last time (offline).
    public func refresh() async {
        let store = self.store, texts = self.texts
        guard let (n, photos, refusals) = try? await offMain({ () throws -> (UInt64, UInt64, [String]) in
            (try store.unsyncedCount(), try store.photoUploadCount(), try Self.refusalTexts(store, texts))
        }) else { return }
        unsynced = n
        photosWaiting = photos
        photoRefusals = refusals
    }

    /// The photo sync after the documents: progress by photos and bytes, then the result.
    private func syncPhotos(client: SyncClient, token: String) async throws {
        let store = self.store, texts = self.texts
        photoProgress = nil
        let relay = Relay<PhotoSyncProgress> { [weak self] p in
            Task { @MainActor in self?.photoProgress = p }
        }
        let (report, waiting, refusals) = try await offMain { () throws -> (PhotoSyncReport, UInt64, [String]) in
            let report = try store.syncPhotos(client: client, accessToken: token, attempts: 3, listener: relay)
            return (report, try store.photoUploadCount(), try Self.refusalTexts(store, texts))
        }
        photoProgress = nil
        photosWaiting = waiting
        photoRefusals = refusals
        var result = texts.get(.photosDone, report.uploaded, report.alreadyOnServer)
        if !report.refused.isEmpty { result += texts.separator + texts.get(.photosRefused, report.refused.count) }
        if report.damagedLocally > 0 { result += texts.separator + texts.get(.photosDamaged, report.damagedLocally) }
        photoResult = result
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
        let relay = Relay<SyncProgress> { [weak self] p in
            Task { @MainActor in
                guard let self else { return }
                self.unsynced = p.unsynced
                let sent = start == 0 ? 1.0 : 1.0 - Double(p.unsynced) / Double(start)
                self.progress = p.more ? nil : min(max(sent, 0), 1)
            }
        }
        defer { running = false }
        do {
            let (report, left, client, token) = try await offMain { () throws -> (SyncReport, UInt64, SyncClient, String) in
                guard let (client, token) = try session.current() else { throw FiregridError.NotSignedIn }
                let report = try store.sync(client: client, accessToken: token, listener: relay)
                return (report, try store.unsyncedCount(), client, token)
            }
            progress = 1
            unsynced = left
            lastSync = Date()
            var result = texts.get(.syncDone, report.sentChanges, report.receivedChanges)
            if !report.refused.isEmpty { result += "; " + texts.get(.syncRefused, report.refused.count) }
            lastResult = result
            refusals = report.refused.map { "\($0.recordId): \($0.reason)" }
            retryable = false
            try await syncPhotos(client: client, token: token)
            return true
        } catch {
            progress = nil
            photoProgress = nil
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
