//! Reading the street's organisation as the screens need it: the member departments (成员单位)
//! an office user picks from when dispatching a case. Read from the department records the
//! store already holds (imported fixtures or synced); it writes nothing.

use super::Store;
use super::record::{self, RecordKind};
use crate::Result;
use crate::district::Department;

impl Store {
    /// The member departments on this device, ordered by id (the dispatch picker). Works
    /// offline; empty until the district has been imported or synced.
    pub fn departments(&self) -> Result<Vec<Department>> {
        self.read(|tx| {
            let ids: Vec<String> = tx
                .prepare_cached("SELECT id FROM org_unit WHERE kind = 'department' ORDER BY id")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            ids.iter()
                .map(|id| record::get(tx, RecordKind::Department, id))
                .collect()
        })
    }
}
