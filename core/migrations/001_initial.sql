-- Schema 1: every record is an automerge document in `record`; the other tables are query
-- columns materialised from those documents in the same transaction (they can be rebuilt from
-- `record` at any time, see Store::reindex).

-- Device-local settings: the device id, the signed-in user.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

-- One automerge document per record (premises, inspection, hazard, user, …).
CREATE TABLE record (
    id         TEXT PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL,
    doc        BLOB NOT NULL,            -- Automerge::save(), compressed, no photos inside
    heads      TEXT NOT NULL,            -- hex change hashes, sorted, comma-separated
    updated_ms INTEGER NOT NULL          -- device clock of the last local write (display only)
) STRICT;
CREATE INDEX record_kind ON record(kind);

-- Organisation: street, communities, grids, micro stations, departments.
CREATE TABLE org_unit (
    id        TEXT PRIMARY KEY NOT NULL REFERENCES record(id) ON DELETE CASCADE,
    kind      TEXT NOT NULL CHECK (kind IN ('street','community','grid','station','department')),
    parent_id TEXT,                      -- a grid's community
    name_zh   TEXT NOT NULL,
    name_en   TEXT NOT NULL
) STRICT;
CREATE INDEX org_unit_parent ON org_unit(kind, parent_id);

-- Which communities a micro station serves.
CREATE TABLE station_community (
    station_id   TEXT NOT NULL REFERENCES org_unit(id) ON DELETE CASCADE,
    community_id TEXT NOT NULL,
    PRIMARY KEY (station_id, community_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE user_account (
    id         TEXT PRIMARY KEY NOT NULL REFERENCES record(id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    scope_kind TEXT NOT NULL,
    scope_id   TEXT NOT NULL
) STRICT;

CREATE TABLE premises (
    id           TEXT PRIMARY KEY NOT NULL REFERENCES record(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    category     TEXT NOT NULL,
    community_id TEXT NOT NULL,
    grid_id      TEXT NOT NULL,
    subtypes     TEXT NOT NULL,           -- ',a,b,' so that LIKE '%,a,%' matches one subtype
    name         TEXT NOT NULL,
    address      TEXT NOT NULL,
    lat          REAL,
    lon          REAL
) STRICT;
CREATE INDEX premises_grid ON premises(grid_id, name);
CREATE INDEX premises_community ON premises(community_id, name);
CREATE INDEX premises_category ON premises(category, name);

CREATE TABLE key_resident (
    id           TEXT PRIMARY KEY NOT NULL REFERENCES record(id) ON DELETE CASCADE,
    community_id TEXT NOT NULL,
    premises_id  TEXT NOT NULL,
    living_status TEXT NOT NULL
) STRICT;
CREATE INDEX key_resident_premises ON key_resident(premises_id);

-- One row per imported checklist version; items per version. Never updated once written.
CREATE TABLE checklist (
    id         TEXT NOT NULL,
    version    INTEGER NOT NULL,
    record_id  TEXT NOT NULL UNIQUE REFERENCES record(id) ON DELETE CASCADE,
    category   TEXT NOT NULL,
    applies_to TEXT NOT NULL,             -- ',kind,kind,'
    PRIMARY KEY (id, version)
) STRICT;

CREATE TABLE checklist_item (
    checklist_id TEXT NOT NULL,
    version      INTEGER NOT NULL,
    position     INTEGER NOT NULL,
    item_id      TEXT NOT NULL,
    group_id     TEXT NOT NULL,
    severity     TEXT NOT NULL,
    photo_required_on_fail INTEGER NOT NULL,
    required     INTEGER NOT NULL,
    only_for     TEXT NOT NULL,           -- ',tag,tag,' or ''
    PRIMARY KEY (checklist_id, version, item_id),
    FOREIGN KEY (checklist_id, version) REFERENCES checklist(id, version) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE standard_element (
    standard_version TEXT NOT NULL,
    code             TEXT NOT NULL,
    record_id        TEXT NOT NULL REFERENCES record(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    group_id         TEXT NOT NULL,
    PRIMARY KEY (standard_version, code)
) STRICT, WITHOUT ROWID;

CREATE TABLE inspection (
    id                TEXT PRIMARY KEY NOT NULL REFERENCES record(id) ON DELETE CASCADE,
    premises_id       TEXT NOT NULL,
    checklist_id      TEXT NOT NULL,
    checklist_version INTEGER NOT NULL,
    inspector_id      TEXT NOT NULL,
    status            TEXT NOT NULL,
    started_ms        INTEGER NOT NULL,
    finished_ms       INTEGER,
    items             INTEGER NOT NULL,
    answered          INTEGER NOT NULL,
    failed            INTEGER NOT NULL
) STRICT;
CREATE INDEX inspection_premises ON inspection(premises_id, started_ms);
CREATE INDEX inspection_inspector ON inspection(inspector_id, started_ms);

CREATE TABLE hazard (
    id            TEXT PRIMARY KEY NOT NULL REFERENCES record(id) ON DELETE CASCADE,
    premises_id   TEXT NOT NULL,
    inspection_id TEXT,
    item_id       TEXT,
    status        TEXT NOT NULL,
    severity      TEXT NOT NULL,
    title_zh      TEXT NOT NULL,
    title_en      TEXT NOT NULL,
    discovered_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX hazard_premises ON hazard(premises_id, discovered_ms);
CREATE INDEX hazard_status ON hazard(status);
