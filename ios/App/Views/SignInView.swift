// Sign-in: server, user, password; the model checks the fields and reports the server's answer.
import FiregridKit
import SwiftUI

struct SignInView: View {
    @ObservedObject var model: SignInViewModel
    @State private var password = ""

    var body: some View {
        Form {
            Section {
                TextField("sign_in.server", text: $model.serverUrl)
                    .textContentType(.URL)
                    .keyboardType(.URL)
                    .autocorrectionDisabled()
                    .textInputAutocapitalization(.never)
                TextField("sign_in.user", text: $model.userId)
                    .textContentType(.username)
                    .autocorrectionDisabled()
                    .textInputAutocapitalization(.never)
                SecureField("sign_in.password", text: $password)
                    .textContentType(.password)
            }
            if let error = model.errorText { Text(error).foregroundStyle(.red) }
            if let notice = model.notice { Text(notice) }
            Button {
                Task { await model.signIn(password: password) }
            } label: {
                if model.busy { ProgressView() } else { Text("sign_in.button") }
            }
            .disabled(model.busy)
        }
        .navigationTitle("app.name")
    }
}
