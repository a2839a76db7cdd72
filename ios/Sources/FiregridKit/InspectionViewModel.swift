// The inspection form's logic in plain Swift, depending only on the generated bindings, so the
// SwiftUI screen stays thin. Every store call blocks (SQLite): they run off the main actor in
// a detached task, and the published state is set back on the main actor.
import Foundation
import FiregridFFI

/// One row of the form: the checklist item and what is recorded against it.
public struct FormItem: Identifiable, Equatable {
    public let id: String
    public let text: String
    public let photoRequiredOnFail: Bool
    public var result: AnswerResult?
    public var note: String
    public var photos: Int
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
    private let language: String
    private var inspectionId: String? = nil

    public init(store: FiregridStore, language: String = Locale.preferredLanguages.first ?? "zh-Hans") {
        self.store = store
        self.language = language
    }

    private func text(_ t: Localized) -> String {
        language.hasPrefix("zh") ? t.zh : t.en
    }

    /// Runs a blocking store call off the main actor and reports its error, if any.
    private func run<T>(_ work: @escaping @Sendable () throws -> T) async -> T? {
        busy = true
        defer { busy = false }
        do {
            let value = try await Task.detached(priority: .userInitiated) { try work() }.value
            errorText = nil
            return value
        } catch let error as FiregridError {
            errorText = Self.describe(error)
            return nil
        } catch {
            errorText = "\(error)"
            return nil
        }
    }

    /// Starts an inspection of a premises and loads its form.
    public func start(premisesId: String, location: GeoPoint? = nil) async {
        let store = self.store
        guard let loaded = await run({ () throws -> (Inspection, Checklist) in
            let inspection = try store.startInspection(premisesId: premisesId, location: location)
            let checklist = try store.checklist(checklistId: inspection.checklistId, version: inspection.checklistVersion)
            return (inspection, checklist)
        }) else { return }
        let (inspection, checklist) = loaded
        inspectionId = inspection.id
        title = text(checklist.title)
        items = inspection.items.compactMap { id in
            guard let item = checklist.items.first(where: { $0.id == id }) else { return nil }
            return FormItem(id: id, text: text(item.text), photoRequiredOnFail: item.photoRequiredOnFail,
                            result: nil, note: "", photos: 0)
        }
    }

    /// Records pass / fail / not applicable (and the note) of one item.
    public func answer(itemId: String, result: AnswerResult, note: String = "") async {
        guard let inspectionId else { return }
        let store = self.store
        let saved: Void? = await run {
            try store.answer(inspectionId: inspectionId, itemId: itemId, result: result, note: note.isEmpty ? nil : note)
        }
        if saved != nil, let i = items.firstIndex(where: { $0.id == itemId }) {
            items[i].result = result
            items[i].note = note
        }
    }

    /// Attaches a photo already stored by the photo pipeline (its SHA-256).
    public func attachPhoto(itemId: String, sha256: String, location: GeoPoint? = nil) async {
        guard let inspectionId else { return }
        let store = self.store
        let photo = PhotoRef(sha256: sha256, capturedAtMs: Int64(Date().timeIntervalSince1970 * 1000), location: location)
        let saved: Void? = await run { try store.attachPhoto(inspectionId: inspectionId, itemId: itemId, photo: photo) }
        if saved != nil, let i = items.firstIndex(where: { $0.id == itemId }) {
            items[i].photos += 1
        }
    }

    /// Finishes the inspection; on refusal, `needsAttention` lists the items to fix.
    public func finish(location: GeoPoint? = nil) async {
        guard let inspectionId else { return }
        let store = self.store
        busy = true
        defer { busy = false }
        do {
            let report = try await Task.detached { try store.finishInspection(inspectionId: inspectionId, location: location) }.value
            finishedHazards = report.hazards
            needsAttention = []
            errorText = nil
        } catch let FiregridError.IncompleteInspection(_, unanswered, missingPhotos) {
            needsAttention = unanswered + missingPhotos
            errorText = language.hasPrefix("zh") ? "还有检查项未完成" : "Some items still need an answer or a photo"
        } catch let error as FiregridError {
            errorText = Self.describe(error)
        } catch {
            errorText = "\(error)"
        }
    }

    /// A message for people; ids only, never personal data.
    public static func describe(_ error: FiregridError) -> String {
        switch error {
        case .NotSignedIn: return "Please sign in"
        case let .Invalid(field, reason): return "\(field): \(reason)"
        case let .Forbidden(detail): return "Not allowed: \(detail)"
        case .StorageFull: return "The phone's storage is full"
        case let .Network(detail): return "Offline: \(detail)"
        default: return "\(error)"
        }
    }
}
