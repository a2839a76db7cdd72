// My hazards: overdue and due-today counts, a status filter, each case with its deadline and
// the steps the user's role can take now (evidence steps take a photo first; reasons and
// departments are asked for).
import FiregridFFI
import FiregridKit
import SwiftUI

struct HazardsView: View {
    @EnvironmentObject private var app: AppModel
    @ObservedObject var model: MyHazardsViewModel
    @State private var photoFor: (String, ActionKind)?
    @State private var reasonFor: (String, ActionKind)?
    @State private var reason = ""
    @State private var dispatchFor: String?
    @State private var chosen: Set<String> = []

    var body: some View {
        List {
            HStack {
                Text("hazards.overdue \(model.overdue)").foregroundStyle(.red)
                Text("hazards.due_today \(model.dueToday)")
            }
            if let error = model.errorText { Text(error).foregroundStyle(.red) }
            if let notice = model.notice { Text(notice) }
            ForEach(model.rows) { row in
                VStack(alignment: .leading, spacing: 6) {
                    Text(row.title).font(.headline)
                    HStack {
                        Text(row.statusText)
                        Text(row.deadlineText).foregroundStyle(row.due == .overdue || row.due == .today ? .red : .primary)
                    }
                    NavigationLink("hazards.details") {
                        HazardDetailView(model: HazardDetailViewModel(store: app.store, session: app.session, texts: app.texts), hazardId: row.id)
                    }
                    HStack {
                        ForEach(row.actions, id: \.self) { kind in
                            Button(label(kind)) { take(row, kind) }.buttonStyle(.bordered)
                        }
                    }
                }
            }
        }
        .refreshable { await model.refresh() }
        .task { await model.refresh() }
        .navigationTitle("tab.hazards")
        .sheet(isPresented: Binding(get: { photoFor != nil }, set: { if !$0 { photoFor = nil } })) {
            CameraPicker { data in
                if let (id, kind) = photoFor {
                    Task {
                        switch kind {
                        case .reportFix: await model.reportFix(hazardId: id, images: [data], note: nil)
                        case .reportHandling: await model.reportHandling(hazardId: id, images: [data], note: "")
                        default: await model.verify(hazardId: id, images: [data])
                        }
                    }
                }
                photoFor = nil
            }
        }
        .alert("hazards.reason", isPresented: Binding(get: { reasonFor != nil }, set: { if !$0 { reasonFor = nil } })) {
            TextField("hazards.reason", text: $reason)
            Button("common.ok") {
                if let (id, kind) = reasonFor {
                    let text = reason
                    Task {
                        await model.act(hazardId: id, action: kind == .reopen
                            ? .reopen(reason: text) : .failVerification(reason: text, deadlineMs: nil))
                    }
                }
                reason = ""
            }
            Button("common.cancel", role: .cancel) { reason = "" }
        }
        .sheet(isPresented: Binding(get: { dispatchFor != nil }, set: { if !$0 { dispatchFor = nil } })) {
            NavigationStack {
                List(model.departments, id: \.id) { d in
                    Button {
                        if chosen.contains(d.id) { chosen.remove(d.id) } else { chosen.insert(d.id) }
                    } label: {
                        HStack {
                            Text(model.name(d.name))
                            if chosen.contains(d.id) { Image(systemName: "checkmark") }
                        }
                    }
                }
                .navigationTitle("hazards.departments")
                .toolbar {
                    Button("common.ok") {
                        if let id = dispatchFor {
                            let ids = Array(chosen).sorted()
                            Task { await model.act(hazardId: id, action: .dispatch(departments: ids, note: nil)) }
                        }
                        chosen = []
                        dispatchFor = nil
                    }
                    .disabled(chosen.isEmpty)
                }
            }
        }
    }

    private func take(_ row: HazardRow, _ kind: ActionKind) {
        switch kind {
        case .reportFix, .reportHandling, .verify: photoFor = (row.id, kind)
        case .failVerification, .reopen: reasonFor = (row.id, kind)
        case .dispatch: dispatchFor = row.id
        case .file: Task { await model.act(hazardId: row.id, action: .file(deadlineMs: nil, note: nil)) }
        case .close: Task { await model.act(hazardId: row.id, action: .close(note: nil)) }
        case .setDeadline:
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let base = max(row.deadlineMs ?? 0, now)
            Task { await model.act(hazardId: row.id, action: .setDeadline(deadlineMs: base + 7 * 86_400_000, note: nil)) }
        }
    }

    private func label(_ kind: ActionKind) -> LocalizedStringKey {
        switch kind {
        case .file: return "action.file"
        case .dispatch: return "action.dispatch"
        case .reportFix: return "action.report_fix"
        case .reportHandling: return "action.report_handling"
        case .verify: return "action.verify"
        case .failVerification: return "action.fail_verification"
        case .close: return "action.close"
        case .reopen: return "action.reopen"
        case .setDeadline: return "action.set_deadline"
        }
    }
}
