// The listener objects the FFI calls back (sync progress, photo-sync progress, a fetched
// thumbnail): each hands what it hears, on the thread that runs the call, to a closure that
// posts it to the main actor.
import FiregridFFI

final class Relay<Value>: @unchecked Sendable {
    let deliver: @Sendable (Value) -> Void
    init(_ deliver: @escaping @Sendable (Value) -> Void) { self.deliver = deliver }
}

extension Relay: SyncProgressListener where Value == SyncProgress {
    func onProgress(progress: SyncProgress) { deliver(progress) }
}

extension Relay: PhotoSyncListener where Value == PhotoSyncProgress {
    func onProgress(progress: PhotoSyncProgress) { deliver(progress) }
}

extension Relay: PhotoFetchListener where Value == String {
    func onThumbnail(sha256: String) { deliver(sha256) }
}
