-- What labels show, written often and cheaply (issue 26).
--
-- A price change marks every label of the goods stale in its UPDATE, and every confirmation
-- (a push acknowledged, a label's own getGoods) rewrites its label's row. PostgreSQL rewrites a
-- row in place (a HOT update: no new index entries) only when no index covers a column that
-- changes; the partial index on stale_since made every one of those rows a new entry in each of
-- the table's indexes (the 1,000-label price push spent ~3x as long marking them in the embedded
-- database). The parity overlay's read of the few stale labels scans the table instead (10,000
-- labels: about a millisecond), and pages keep room for the rewritten rows.
drop index label_shown_stale_idx;
alter table label_shown set (fillfactor = 70);

-- The parity overlay holds the stale labels only: a change to what labels show is announced
-- when a stale label is written, or a label stops being stale. A label confirming what it
-- already showed, fresh, is not (2,000 labels asking after a power cut reloaded it each time).
create or replace function labels_shown_changed() returns trigger language plpgsql as $$
begin
  if exists (select 1 from changed_rows where stale_since is not null) then
    perform pg_notify('labels_shown', '');
  end if;
  return null;
end $$;
create function labels_shown_updated() returns trigger language plpgsql as $$
begin
  if exists (select 1 from changed_rows where stale_since is not null)
    or exists (select 1 from old_rows where stale_since is not null) then
    perform pg_notify('labels_shown', '');
  end if;
  return null;
end $$;
drop trigger label_shown_updated on label_shown;
create trigger label_shown_updated after update on label_shown
  referencing old table as old_rows new table as changed_rows
  for each statement execute function labels_shown_updated();
