//! `FiregridStore`: the on-device store as the app holds it. Each method converts its
//! arguments, delegates to one `firegrid_core::Store` call and converts the result and the
//! error; nothing else happens here.
//!
//! Threading: the store is `Send + Sync` and every method may be called from any thread.
//! Reads use their own connection and never wait for writes; writes serialise on the writer
//! connection for one transaction each. Every method blocks (SQLite, and the network for
//! `login` and `sync`): call them off the main thread.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use firegrid_core::sync::http::{RetryPolicy, sync_with_retry};
use firegrid_core::{Error as CoreError, Store};

use crate::access::{Department, User};
use crate::checklist::Checklist;
use crate::error::Result;
use crate::hazard::{
    FocusMark, Hazard, HazardAction, HazardCase, HazardStatus, HazardSummary, NewHazard, Reminders,
};
use crate::inspection::{AnswerResult, FinishReport, Inspection, InspectionSummary};
use crate::premises::{Premises, PremisesFilter, PremisesSummary};
use crate::sync::{Login, SyncClient, SyncProgressListener, SyncReport};
use crate::vocab::{GeoPoint, PhotoRef, map_all};

/// Stores alive in this process (opened and not yet freed by the foreign side).
static OPEN_STORES: AtomicU64 = AtomicU64::new(0);

/// The number of `FiregridStore` objects alive in this process: opened and not yet freed
/// (Kotlin `close()`, Swift release, Python garbage collection). For leak checks and
/// diagnostics.
#[uniffi::export]
pub fn open_store_count() -> u64 {
    OPEN_STORES.load(Ordering::SeqCst)
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct ImportReport {
    /// Records created.
    pub created: u64,
    /// Records whose content changed.
    pub updated: u64,
    /// Records already there with the same content.
    pub unchanged: u64,
}

impl From<firegrid_core::store::ImportReport> for ImportReport {
    fn from(r: firegrid_core::store::ImportReport) -> Self {
        ImportReport {
            created: r.created,
            updated: r.updated,
            unchanged: r.unchanged,
        }
    }
}

/// What a sign-out wipe removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct WipeReport {
    /// Records removed.
    pub records: u64,
    /// Of those, records whose changes never reached the server (non-zero only when forced).
    pub unsynced_dropped: u64,
    /// Photo files removed.
    pub photos: u64,
}

impl From<firegrid_core::store::WipeReport> for WipeReport {
    fn from(r: firegrid_core::store::WipeReport) -> Self {
        WipeReport {
            records: r.records,
            unsynced_dropped: r.unsynced_dropped,
            photos: r.photos,
        }
    }
}

/// The Firegrid store on this device: one SQLite file in app-private storage.
#[derive(Debug, uniffi::Object)]
pub struct FiregridStore {
    pub(crate) store: Store,
}

impl Drop for FiregridStore {
    fn drop(&mut self) {
        OPEN_STORES.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Calls `listener` (if any) with each round's progress.
fn report_to(
    listener: Option<&dyn SyncProgressListener>,
) -> impl FnMut(firegrid_core::sync::SyncProgress) + '_ {
    move |p| {
        if let Some(l) = listener {
            l.on_progress(p.into());
        }
    }
}

#[uniffi::export]
impl FiregridStore {
    /// Opens the store file at `path` (created if missing, migrated to the current schema).
    /// Open one per file and share it between threads.
    #[uniffi::constructor]
    pub fn open(path: String) -> Result<Arc<FiregridStore>> {
        let store = Store::open(&path)?;
        OPEN_STORES.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(FiregridStore { store }))
    }

    /// This device's id (random, made when the store was created; show it in settings so an
    /// administrator can revoke a lost phone).
    pub fn device_id(&self) -> String {
        self.store.device_id().to_string()
    }

    /// Imports a fixtures folder (`standards/`, `checklists/`, `district/`); idempotent.
    pub fn import_fixtures(&self, dir: String) -> Result<ImportReport> {
        Ok(self.store.import_fixtures(Path::new(&dir))?.into())
    }

    /// Signs a user in on this device (one of the imported users; `login` first online).
    pub fn set_current_user(&self, user_id: String) -> Result<User> {
        Ok(self.store.set_current_user(&user_id)?.into())
    }

    /// The signed-in user, if any.
    pub fn current_user(&self) -> Result<Option<User>> {
        Ok(self.store.current_user()?.map(Into::into))
    }

    /// Signs the current user out of this device; local data stays. Sync first: events
    /// recorded offline are checked against the author's role at the next sync.
    pub fn sign_out(&self) -> Result<()> {
        Ok(self.store.clear_current_user()?)
    }

    /// Signs out and removes everything the user's work left on this device: every record,
    /// the sync state, the signed-in user and the photo folder; the device id stays. Sync
    /// first: with changes the server has not acknowledged it fails with `UnsyncedChanges`
    /// and removes nothing, unless `force` (the user gives those changes up). Fails with
    /// `AlreadySyncing` while a sync runs. Crash-safe: a kill leaves the whole store or an
    /// empty one. The store stays open and usable: a new user can sign in and sync.
    pub fn sign_out_and_wipe(&self, force: bool) -> Result<WipeReport> {
        Ok(self.store.wipe(force)?.into())
    }

    /// Logs the user in on the server for this store's device. Blocking (network). Keep the
    /// tokens in the Keystore / Keychain, then call `set_current_user(login.user.id)`.
    pub fn login(
        &self,
        client: Arc<SyncClient>,
        user_id: String,
        password: String,
    ) -> Result<Login> {
        Ok(client
            .inner
            .login(&user_id, &password, self.store.device_id())?
            .into())
    }

    /// Premises in the signed-in user's area matching `filter`, ordered by name.
    pub fn list_premises(&self, filter: PremisesFilter) -> Result<Vec<PremisesSummary>> {
        let user = self.store.current_user()?.ok_or(CoreError::NoCurrentUser)?;
        Ok(map_all(
            self.store.list_premises(&user.scope, &filter.into())?,
        ))
    }

    /// One premises.
    pub fn premises(&self, premises_id: String) -> Result<Premises> {
        Ok(self.store.premises(&premises_id)?.into())
    }

    /// The checklist version a new inspection of this premises would use.
    pub fn current_checklist_for(&self, premises_id: String) -> Result<Checklist> {
        Ok(self.store.current_checklist_for(&premises_id)?.into())
    }

    /// A checklist version (to render an inspection started on it).
    pub fn checklist(&self, checklist_id: String, version: u32) -> Result<Checklist> {
        Ok(self.store.checklist(&checklist_id, version)?.into())
    }

    /// Starts an inspection of a premises with the newest checklist for its kind.
    #[uniffi::method(default(location = None))]
    pub fn start_inspection(
        &self,
        premises_id: String,
        location: Option<GeoPoint>,
    ) -> Result<Inspection> {
        Ok(self
            .store
            .start_inspection(&premises_id, location.map(Into::into))?
            .into())
    }

    /// Records the result (and note) of one item.
    #[uniffi::method(default(note = None))]
    pub fn answer(
        &self,
        inspection_id: String,
        item_id: String,
        result: AnswerResult,
        note: Option<String>,
    ) -> Result<()> {
        Ok(self
            .store
            .answer(&inspection_id, &item_id, result.into(), note)?)
    }

    /// Attaches a photo reference to an item (the same photo is not added twice).
    pub fn attach_photo(
        &self,
        inspection_id: String,
        item_id: String,
        photo: PhotoRef,
    ) -> Result<()> {
        Ok(self
            .store
            .attach_photo(&inspection_id, &item_id, photo.into())?)
    }

    /// Removes a photo reference from an item.
    pub fn remove_photo(
        &self,
        inspection_id: String,
        item_id: String,
        sha256: String,
    ) -> Result<()> {
        Ok(self.store.remove_photo(&inspection_id, &item_id, &sha256)?)
    }

    /// Finishes an inspection; each failed item becomes a hazard draft.
    #[uniffi::method(default(location = None))]
    pub fn finish_inspection(
        &self,
        inspection_id: String,
        location: Option<GeoPoint>,
    ) -> Result<FinishReport> {
        let hazards = self
            .store
            .finish_inspection(&inspection_id, location.map(Into::into))?
            .hazards;
        Ok(FinishReport { hazards })
    }

    /// One inspection.
    pub fn inspection(&self, inspection_id: String) -> Result<Inspection> {
        Ok(self.store.inspection(&inspection_id)?.into())
    }

    /// Inspections of one premises, newest first.
    pub fn list_inspections(&self, premises_id: String) -> Result<Vec<InspectionSummary>> {
        Ok(map_all(self.store.list_inspections(&premises_id)?))
    }

    /// Reports a hazard directly (without an inspection); it starts as a draft.
    pub fn report_hazard(&self, hazard: NewHazard) -> Result<Hazard> {
        Ok(self.store.report_hazard(hazard.into())?.into())
    }

    /// One hazard record with its history.
    pub fn hazard(&self, hazard_id: String) -> Result<Hazard> {
        Ok(self.store.hazard(&hazard_id)?.into())
    }

    /// Hazards of one premises, newest first.
    pub fn list_hazards(&self, premises_id: String) -> Result<Vec<HazardSummary>> {
        Ok(map_all(self.store.list_hazards(&premises_id)?))
    }

    /// One case: the record, its folded state and the proposals made from it.
    pub fn hazard_case(&self, hazard_id: String) -> Result<HazardCase> {
        Ok(self.store.hazard_case(&hazard_id)?.into())
    }

    /// Takes one step of a hazard's closed loop as the signed-in user; refused with nothing
    /// written (`Forbidden`, `HazardTransition`) when it may not be taken.
    pub fn hazard_action(&self, hazard_id: String, action: HazardAction) -> Result<HazardCase> {
        Ok(self.store.hazard_action(&hazard_id, action.into())?.into())
    }

    /// The cases the signed-in user works on across premises (a department: those dispatched
    /// to it; others: those in their area), optionally of one status; the soonest deadline
    /// first, then the newest. Paged (`limit` default 200, at most 5,000).
    #[uniffi::method(default(status = None, limit = None, offset = None))]
    pub fn my_hazards(
        &self,
        status: Option<HazardStatus>,
        limit: Option<u32>,
        offset: Option<u32>,
    ) -> Result<Vec<HazardSummary>> {
        Ok(map_all(self.store.my_hazards(
            status.map(Into::into),
            limit,
            offset,
        )?))
    }

    /// The member departments on this device, by id: the dispatch picker (offline).
    pub fn departments(&self) -> Result<Vec<Department>> {
        Ok(map_all(self.store.departments()?))
    }

    /// The signed-in user's deadline reminders at `now_ms` ("today" in the zone at
    /// `utc_offset_minutes`, Shanghai 480), offline.
    pub fn hazard_reminders(&self, now_ms: i64, utc_offset_minutes: i32) -> Result<Reminders> {
        Ok(self
            .store
            .hazard_reminders(now_ms, utc_offset_minutes)?
            .into())
    }

    /// Premises in the user's area marked for focused supervision at `now_ms`.
    pub fn focus_premises(&self, now_ms: i64) -> Result<Vec<FocusMark>> {
        Ok(map_all(self.store.focus_premises(now_ms)?))
    }

    /// Records changed on this device and not yet acknowledged by the server.
    pub fn unsynced_count(&self) -> Result<u64> {
        Ok(self.store.unsynced_count()?)
    }

    /// Syncs with the server once (one round trip when little changed, pages when a lot).
    /// Blocking: run it off the main thread; reads and writes from other threads go on while
    /// it runs. A second concurrent sync of this store fails with `AlreadySyncing`.
    #[uniffi::method(default(listener = None))]
    pub fn sync(
        &self,
        client: Arc<SyncClient>,
        access_token: String,
        listener: Option<Box<dyn SyncProgressListener>>,
    ) -> Result<SyncReport> {
        Ok(self
            .store
            .sync_http(
                &client.inner,
                &access_token,
                &mut report_to(listener.as_deref()),
            )?
            .into())
    }

    /// Like `sync`, retrying up to `attempts` times in all on network errors and a busy
    /// server, with exponential backoff and jitter (honouring the server's Retry-After).
    /// Blocks for the waits too.
    #[uniffi::method(default(listener = None))]
    pub fn sync_with_retry(
        &self,
        client: Arc<SyncClient>,
        access_token: String,
        attempts: u32,
        listener: Option<Box<dyn SyncProgressListener>>,
    ) -> Result<SyncReport> {
        let policy = RetryPolicy {
            attempts,
            ..RetryPolicy::default()
        };
        let mut progress = report_to(listener.as_deref());
        Ok(sync_with_retry(
            policy,
            || {
                self.store
                    .sync_http(&client.inner, &access_token, &mut progress)
            },
            std::thread::sleep,
        )?
        .into())
    }
}
