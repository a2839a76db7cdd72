// One hazard case in detail, as android/model/HazardDetailModel.kt: its status and the
// before/after photo pairs (整改前后对比) with the distance between the two photos and the
// far-away flag the core sets. Thumbnails the device lacks (taken on another phone) are fetched
// on demand from the server, thumbnail first, and shown as they are stored; offline the pair
// shows without them and says so. Store and network calls run off the main actor.
import Foundation
import FiregridFFI

/// One side of a pair: the photo's hash and its thumbnail once the device holds it.
public struct PairPhoto: Equatable, Sendable {
    public let sha256: String
    /// JPEG, ≤ 256 px; nil while missing.
    public var thumbnail: Data?
    /// What to show in its place while `thumbnail` is nil ("" once shown).
    public var placeholder: String
}

/// A before/after pair as the view shows it.
public struct PhotoPairRow: Identifiable, Equatable, Sendable {
    public var id: String { eventId }
    public let eventId: String
    public let kindText: String
    public var before: PairPhoto
    public var after: PairPhoto
    public let distanceM: Double?
    public let distanceText: String
    public let far: Bool
    /// The warning to show when `far`, else nil.
    public let farText: String?
}

@MainActor
public final class HazardDetailViewModel: ObservableObject {
    @Published public private(set) var title = ""
    @Published public private(set) var status: HazardStatus?
    @Published public private(set) var statusText = ""
    @Published public private(set) var pairs: [PhotoPairRow] = []
    @Published public private(set) var errorText: String?

    private let store: FiregridStore
    private let session: Session
    private let texts: Texts

    public init(store: FiregridStore, session: Session, texts: Texts = Texts()) {
        self.store = store
        self.session = session
        self.texts = texts
    }

    private nonisolated static func local(_ store: FiregridStore, _ sha256: String) -> Data? {
        try? store.photoThumbnail(sha256: sha256)
    }

    private func row(_ p: PhotoPair, before: Data?, after: Data?) -> PhotoPairRow {
        let kind: Msg
        switch p.kind {
        case .handled: kind = .pairHandling
        case .verified, .verificationFailed: kind = .pairVerification
        default: kind = .pairFix
        }
        let loading = texts.get(.photoLoading)
        return PhotoPairRow(
            eventId: p.eventId,
            kindText: texts.get(kind),
            before: PairPhoto(sha256: p.beforeSha256, thumbnail: before, placeholder: before == nil ? loading : ""),
            after: PairPhoto(sha256: p.afterSha256, thumbnail: after, placeholder: after == nil ? loading : ""),
            distanceM: p.distanceM,
            distanceText: p.distanceM.map { texts.get(.pairDistance, Int($0.rounded())) } ?? texts.get(.pairNoDistance),
            far: p.far,
            farText: p.far ? texts.get(.pairFar) : nil
        )
    }

    /// Loads the case and its pairs with the thumbnails the device holds, then fetches the
    /// missing ones (each shown as it arrives).
    public func open(hazardId: String) async {
        let store = self.store
        do {
            let (hazardCase, thumbs) = try await offMain { () throws -> (HazardCase, [String: Data]) in
                let c = try store.hazardCase(hazardId: hazardId)
                var thumbs: [String: Data] = [:]
                for p in c.photoPairs {
                    for sha in [p.beforeSha256, p.afterSha256] { thumbs[sha] = Self.local(store, sha) }
                }
                return (c, thumbs)
            }
            title = texts.of(hazardCase.hazard.title)
            status = hazardCase.state.status
            statusText = texts.status(hazardCase.state.status)
            pairs = hazardCase.photoPairs.map { row($0, before: thumbs[$0.beforeSha256], after: thumbs[$0.afterSha256]) }
            errorText = nil
        } catch {
            errorText = texts.describe(error)
            return
        }
        await fetchMissing()
    }

    /// Puts a stored thumbnail into every pair that shows it.
    private func show(_ sha256: String, _ thumbnail: Data?, placeholder: String = "") {
        func fill(_ p: inout PairPhoto) {
            guard p.sha256 == sha256, p.thumbnail == nil else { return }
            p.thumbnail = thumbnail
            p.placeholder = thumbnail == nil ? placeholder : ""
        }
        for i in pairs.indices {
            fill(&pairs[i].before)
            fill(&pairs[i].after)
        }
    }

    private var missing: [String] {
        var seen = Set<String>()
        return pairs.flatMap { [$0.before, $0.after] }.filter { $0.thumbnail == nil }.map(\.sha256).filter { seen.insert($0).inserted }
    }

    /// Downloads the thumbnails (then the photos) the device lacks; safe to call again.
    public func fetchMissing() async {
        let wanted = missing
        guard !wanted.isEmpty else { return }
        let store = self.store, session = self.session
        let relay = Relay<String> { [weak self] sha in
            let thumb = Self.local(store, sha)
            Task { @MainActor in self?.show(sha, thumb) }
        }
        let unavailable = texts.get(.photoNotAvailable)
        let signedIn: (SyncClient, String)?
        do {
            signedIn = try await offMain { try session.current() }
        } catch {
            signedIn = nil
            errorText = texts.describe(error)
        }
        guard let (client, token) = signedIn else {
            for sha in wanted { show(sha, nil, placeholder: unavailable) }
            if errorText == nil { errorText = texts.get(.notSignedIn) }
            return
        }
        for sha in wanted {
            do {
                let thumb = try await offMain { () throws -> Data? in
                    _ = try store.fetchPhoto(client: client, accessToken: token, sha256: sha, thumbnailFirst: true, listener: relay)
                    return Self.local(store, sha)
                }
                show(sha, thumb, placeholder: unavailable)
            } catch FiregridError.NotFound {
                // Not uploaded from the other phone yet: the others may still come.
                show(sha, nil, placeholder: unavailable)
            } catch {
                for sha in missing { show(sha, nil, placeholder: unavailable) }
                errorText = texts.describe(error)
                return
            }
        }
    }
}
