// The inspection form's logic in plain Swift, as android/model/InspectionFormModel.kt: one
// checklist per category, each item pass / fail / n.a. with a note and camera photos shown as
// thumbnails. The camera's JPEG reaches the store through the injected `addPhoto` (the app
// passes the photo pipeline's `store.addPhoto(image:keepLocation:)`); a file the pipeline cannot
// use (junk, HEIC, a bomb) is refused with a message in the user's language. Every store call blocks (SQLite, image processing): it runs off
// the main actor, and the published state is set back on the main actor.
import Foundation
import FiregridFFI

/// One row of the form: the checklist item and what is recorded against it.
public struct FormItem: Identifiable, Equatable {
    public let id: String
    public let text: String
    public let photoRequiredOnFail: Bool
    public var result: AnswerResult?
    public var note: String
    /// The attached photos' SHA-256, in the order taken.
    public var photos: [String]
    /// Their thumbnails (JPEG, ≤ 256 px) by SHA-256, as the store holds them.
    public var thumbnails: [String: Data] = [:]
}

@MainActor
public final class InspectionViewModel: ObservableObject {
    @Published public private(set) var items: [FormItem] = []
    @Published public private(set) var title = ""
    @Published public private(set) var finishedHazards: [String]? = nil
    /// Items to take the user to after a refused finish (unanswered, then missing photos).
    @Published public private(set) var needsAttention: [String] = []
    @Published public private(set) var errorText: String? = nil
    @Published public private(set) var busy = false

    private let store: FiregridStore
    private let texts: Texts
    private let addPhoto: @Sendable (Data) throws -> PhotoRef
    private var inspectionId: String? = nil

    public init(store: FiregridStore, texts: Texts = Texts(), addPhoto: @escaping @Sendable (Data) throws -> PhotoRef) {
        self.store = store
        self.texts = texts
        self.addPhoto = addPhoto
    }

    /// Runs a blocking call off the main actor and reports its error, if any.
    private func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async -> T? {
        busy = true
        defer { busy = false }
        do {
            let value = try await offMain(work)
            errorText = nil
            return value
        } catch {
            errorText = texts.describe(error)
            return nil
        }
    }

    private func current() -> String? {
        if inspectionId == nil { errorText = texts.get(.noInspection) }
        return inspectionId
    }

    /// Starts an inspection of a premises and loads its form.
    public func start(premisesId: String, location: GeoPoint? = nil) async {
        let store = self.store
        guard let (inspection, checklist) = await run({ () throws -> (Inspection, Checklist) in
            let inspection = try store.startInspection(premisesId: premisesId, location: location)
            let checklist = try store.checklist(checklistId: inspection.checklistId, version: inspection.checklistVersion)
            return (inspection, checklist)
        }) else { return }
        inspectionId = inspection.id
        title = texts.of(checklist.title)
        items = inspection.items.compactMap { id in
            guard let item = checklist.items.first(where: { $0.id == id }) else { return nil }
            return FormItem(id: id, text: texts.of(item.text), photoRequiredOnFail: item.photoRequiredOnFail,
                            result: nil, note: "", photos: [])
        }
    }

    private func change(_ itemId: String, _ edit: (inout FormItem) -> Void) {
        if let i = items.firstIndex(where: { $0.id == itemId }) { edit(&items[i]) }
    }

    /// Records pass / fail / not applicable (and the note) of one item.
    public func answer(itemId: String, result: AnswerResult, note: String = "") async {
        guard let inspectionId = current() else { return }
        let store = self.store
        let saved: Void? = await run {
            try store.answer(inspectionId: inspectionId, itemId: itemId, result: result, note: note.isEmpty ? nil : note)
        }
        if saved != nil { change(itemId) { $0.result = result; $0.note = note } }
    }

    /// A picture from the camera (JPEG data): processed and stored by the photo pipeline, then
    /// attached with its thumbnail. A picture the pipeline refuses (junk, HEIC, a bomb) becomes
    /// a message in the user's language and nothing is attached.
    public func capture(itemId: String, image: Data) async {
        guard let inspectionId = current() else { return }
        let store = self.store, addPhoto = self.addPhoto
        let photo: PhotoRef
        do {
            photo = try await offMain { try addPhoto(image) }
        } catch let FiregridError.Invalid(field, _) where field == "photo" {
            errorText = texts.get(.photoUnusable)
            return
        } catch {
            errorText = texts.describe(error)
            return
        }
        guard let thumbnail = await run({ () throws -> Data? in
            try store.attachPhoto(inspectionId: inspectionId, itemId: itemId, photo: photo)
            return try? store.photoThumbnail(sha256: photo.sha256)
        }) else { return }
        change(itemId) {
            guard !$0.photos.contains(photo.sha256) else { return }
            $0.photos.append(photo.sha256)
            if let thumbnail { $0.thumbnails[photo.sha256] = thumbnail }
        }
    }

    /// Finishes the inspection; on refusal, `needsAttention` lists the items to fix.
    public func finish(location: GeoPoint? = nil) async {
        guard let inspectionId = current() else { return }
        let store = self.store
        busy = true
        defer { busy = false }
        do {
            let report = try await offMain { try store.finishInspection(inspectionId: inspectionId, location: location) }
            finishedHazards = report.hazards
            needsAttention = []
            errorText = nil
        } catch let FiregridError.IncompleteInspection(id, unanswered, missingPhotos) {
            needsAttention = unanswered + missingPhotos
            errorText = texts.describe(FiregridError.IncompleteInspection(inspectionId: id, unanswered: unanswered, missingPhotos: missingPhotos))
        } catch {
            errorText = texts.describe(error)
        }
    }
}
