-- Schema 3: the hazard closed loop. The columns are folded from each hazard's event list
-- (hazard::lifecycle::fold) in the same transaction as the document; Store::reindex rebuilds
-- them. Hazards written at schema 2 had only their discovery event, which these defaults match.

ALTER TABLE hazard ADD COLUMN mode TEXT;                 -- on_the_spot | by_deadline
ALTER TABLE hazard ADD COLUMN deadline_ms INTEGER;
ALTER TABLE hazard ADD COLUMN departments TEXT NOT NULL DEFAULT '';   -- ',dept.a,dept.b,'
ALTER TABLE hazard ADD COLUMN reported TEXT NOT NULL DEFAULT '';      -- departments that reported
ALTER TABLE hazard ADD COLUMN supervision TEXT;          -- street | district while listed
ALTER TABLE hazard ADD COLUMN listing_target_ms INTEGER;
ALTER TABLE hazard ADD COLUMN recurrence INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hazard ADD COLUMN recurrence_of TEXT;
ALTER TABLE hazard ADD COLUMN elements TEXT NOT NULL DEFAULT '';      -- ',2017:6.2,'
ALTER TABLE hazard ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;       -- events flagged by the fold
ALTER TABLE hazard ADD COLUMN closed_ms INTEGER;
ALTER TABLE hazard ADD COLUMN reopened INTEGER NOT NULL DEFAULT 0;

CREATE INDEX hazard_deadline ON hazard(deadline_ms) WHERE deadline_ms IS NOT NULL;
CREATE INDEX hazard_item ON hazard(premises_id, item_id, closed_ms);
