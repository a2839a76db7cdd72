// The inspection form of any category: pass / fail / n.a., a note, camera photos (through the
// photo pipeline), and finishing, which points at the items still missing.
import FiregridFFI
import FiregridKit
import SwiftUI

struct InspectionView: View {
    @StateObject var model: InspectionViewModel
    let premisesId: String
    @State private var cameraFor: String?

    init(model: InspectionViewModel, premisesId: String) {
        _model = StateObject(wrappedValue: model)
        self.premisesId = premisesId
    }

    var body: some View {
        List {
            if let error = model.errorText { Text(error).foregroundStyle(.red) }
            if let hazards = model.finishedHazards {
                Text("inspection.finished \(hazards.count)")
            } else {
                ForEach(model.items) { item in
                    ItemRow(item: item, attention: model.needsAttention.contains(item.id),
                            answer: { result, note in Task { await model.answer(itemId: item.id, result: result, note: note) } },
                            takePhoto: { cameraFor = item.id })
                }
                Button("inspection.finish") { Task { await model.finish() } }
                    .disabled(model.busy)
            }
        }
        .navigationTitle(model.title)
        .task { if model.items.isEmpty { await model.start(premisesId: premisesId) } }
        .sheet(isPresented: Binding(get: { cameraFor != nil }, set: { if !$0 { cameraFor = nil } })) {
            CameraPicker { data in
                if let item = cameraFor { Task { await model.capture(itemId: item, image: data) } }
                cameraFor = nil
            }
        }
    }
}

private struct ItemRow: View {
    let item: FormItem
    let attention: Bool
    let answer: (AnswerResult, String) -> Void
    let takePhoto: () -> Void
    @State private var note = ""

    var body: some View {
        VStack(alignment: .leading, spacing: 8) {
            Text(item.text).foregroundStyle(attention ? .red : .primary)
            if item.photoRequiredOnFail { Text("inspection.photo_required").font(.caption) }
            Picker("inspection.result", selection: Binding(
                get: { item.result },
                set: { r in if let r { answer(r, note) } })
            ) {
                Text("inspection.pass").tag(AnswerResult?.some(.pass))
                Text("inspection.fail").tag(AnswerResult?.some(.fail))
                Text("inspection.na").tag(AnswerResult?.some(.notApplicable))
            }
            .pickerStyle(.segmented)
            TextField("inspection.note", text: $note)
                .onSubmit { if let r = item.result { answer(r, note) } }
            HStack {
                Button("inspection.photo", action: takePhoto)
                if !item.photos.isEmpty { Text("inspection.photos \(item.photos.count)") }
            }
            if !item.photos.isEmpty {
                ScrollView(.horizontal) {
                    HStack { ForEach(item.photos, id: \.self) { Thumbnail(jpeg: item.thumbnails[$0]) } }
                }
            }
        }
        .onAppear { note = item.note }
    }
}
