// Sign-in and sign-out, as android/model/SignInModel.kt: log in for this phone, keep the tokens
// in the vault, make the user current (a new or wiped phone syncs first to receive the users);
// sign-out syncs what it can, wipes the phone (refused while work is unsent unless the user
// confirms), ends the login on the server and forgets the tokens. Store calls run off the
// main actor.
import Foundation
import FiregridFFI

@MainActor
public final class SignInViewModel: ObservableObject {
    @Published public private(set) var user: User?
    @Published public private(set) var busy = false
    @Published public private(set) var errorText: String?
    @Published public private(set) var notice: String?
    /// Records a sign-out would give up: ask, then `signOut(force: true)`.
    @Published public private(set) var unsyncedAtSignOut: UInt64?
    @Published public var serverUrl = ""
    @Published public var userId = ""

    private let store: FiregridStore
    private let session: Session
    private let texts: Texts

    public init(store: FiregridStore, session: Session, texts: Texts = Texts()) {
        self.store = store
        self.session = session
        self.texts = texts
    }

    /// At app start: the user already signed in on this phone, if any (offline).
    public func restore() async {
        let store = self.store, session = self.session
        let found = try? await offMain { () -> User? in
            guard let saved = session.saved, let user = try store.currentUser(), user.id == saved.userId else { return nil }
            return user
        }
        user = found ?? nil
        if let saved = session.saved {
            serverUrl = saved.serverUrl
            userId = saved.userId
        }
    }

    public func signIn(password: String) async {
        let url = serverUrl.trimmingCharacters(in: .whitespaces)
        let id = userId.trimmingCharacters(in: .whitespaces)
        notice = nil
        if url.isEmpty { errorText = texts.get(.serverUrlRequired); return }
        if id.isEmpty { errorText = texts.get(.userRequired); return }
        if password.isEmpty { errorText = texts.get(.passwordRequired); return }
        busy = true
        defer { busy = false }
        let store = self.store, session = self.session
        do {
            user = try await offMain {
                let client = try session.client(serverUrl: url)
                let login = try store.login(client: client, userId: id, password: password)
                session.remember(serverUrl: url, session: login.session)
                do {
                    return try store.setCurrentUser(userId: login.user.id)
                } catch FiregridError.NotFound {
                    // A new or wiped phone holds no users yet: the first sync brings them.
                    _ = try store.sync(client: client, accessToken: login.session.accessToken, listener: nil)
                    return try store.setCurrentUser(userId: login.user.id)
                }
            }
            errorText = nil
        } catch FiregridError.Unauthorized {
            errorText = texts.get(.wrongCredentials)
        } catch let FiregridError.Invalid(field, _) where field == "server_url" {
            errorText = texts.get(.serverUrlInvalid, url)
        } catch {
            errorText = texts.describe(error)
        }
    }

    /// The user chose to keep unsent work.
    public func dismissSignOut() {
        unsyncedAtSignOut = nil
        errorText = nil
    }

    public func signOut(force: Bool = false) async {
        busy = true
        defer { busy = false }
        let store = self.store, session = self.session
        do {
            try await offMain {
                let online = try? session.current()
                if let (client, token) = online {
                    _ = try? store.sync(client: client, accessToken: token, listener: nil)
                }
                _ = try store.signOutAndWipe(force: force)
                if let (client, token) = online { try? client.logout(accessToken: token) }
                session.forget()
            }
            user = nil
            unsyncedAtSignOut = nil
            errorText = nil
            notice = texts.get(.signedOut)
        } catch let FiregridError.UnsyncedChanges(records, photos) {
            unsyncedAtSignOut = records + photos
            errorText = texts.get(.unsyncedBeforeWipe, records, photos)
        } catch {
            errorText = texts.describe(error)
        }
    }
}
