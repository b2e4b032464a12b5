-- Pushes (PROTOCOL.md §4): goods changes signalled by the database itself, pending sendGoods,
-- goods positions and AGV refill jobs.

-- One row per goods that ever changed in a way a device shows. `change_no` comes from a sequence
-- at each change; the push worker sets `pushed_no` to the `change_no` it has fanned out. Rows
-- with change_no > pushed_no are the catch-up after a reconnect or a restart: nothing depends on
-- a NOTIFY having been received, and a transaction that commits late is still found.
create sequence goods_change_seq;
create table goods_changes (
  goods_id integer primary key,
  change_no bigint not null,
  pushed_no bigint not null default 0,
  changed_at timestamptz not null default now()
);
create index goods_changes_todo_idx on goods_changes (change_no) where change_no > pushed_no;

-- Whoever changes the data (the appliance, psql, the ERP) goes through here. Statement-level
-- triggers with transition tables: a promotion changing 5,000 prices in one UPDATE costs one
-- upsert and a few NOTIFYs, not 5,000 of each. The NOTIFY payload is the changed goods ids,
-- comma-separated, at most 1,000 per notification (a payload must stay under 8,000 bytes).
create function mark_goods_changed(ids integer[]) returns void language plpgsql as $$
declare
  chunk text;
begin
  if coalesce(array_length(ids, 1), 0) = 0 then
    return;
  end if;
  insert into goods_changes (goods_id, change_no, changed_at)
  select id, nextval('goods_change_seq'), now()
  from (select distinct unnest(ids) as id) d where id is not null
  on conflict (goods_id) do update set change_no = excluded.change_no,
    changed_at = excluded.changed_at;
  for chunk in
    select string_agg(id::text, ',' order by id)
    from (select id, (row_number() over (order by id) - 1) / 1000 as part
          from (select distinct unnest(ids) as id) d where id is not null) numbered
    group by part order by part
  loop
    perform pg_notify('goods_changed', chunk);
  end loop;
end $$;

create function goods_inserted() returns trigger language plpgsql as $$
begin
  perform mark_goods_changed(array(select id from new_rows));
  return null;
end $$;

-- Only the fields a device is sent: touching updated_at alone pushes nothing. EXCEPT compares
-- whole tuples with hashing (NULLs equal, like IS DISTINCT FROM); a join of the transition tables
-- would be planned as a nested loop (they have no statistics): quadratic for a 5,000-row UPDATE.
create function goods_updated() returns trigger language plpgsql as $$
begin
  perform mark_goods_changed(array(
    select id from (
      select id, name, barcode, price, cost, description, origin, features, active, category_id
      from new_rows
      except
      select id, name, barcode, price, cost, description, origin, features, active, category_id
      from old_rows) changed));
  return null;
end $$;

create trigger goods_shown_insert after insert on goods
  referencing new table as new_rows for each statement execute function goods_inserted();
create trigger goods_shown_update after update on goods
  referencing old table as old_rows new table as new_rows
  for each statement execute function goods_updated();

-- Shelf-label bindings and stock: the goods on either side of the change.
create function goods_ref_inserted() returns trigger language plpgsql as $$
begin
  perform mark_goods_changed(array(select goods_id from new_rows));
  return null;
end $$;

create function goods_ref_deleted() returns trigger language plpgsql as $$
begin
  perform mark_goods_changed(array(select goods_id from old_rows));
  return null;
end $$;

create function label_binding_updated() returns trigger language plpgsql as $$
begin
  perform mark_goods_changed(array(
    select goods_id from new_rows union select goods_id from old_rows));
  return null;
end $$;

create function stock_updated() returns trigger language plpgsql as $$
begin
  -- Rows whose quantity changed, and both sides of a row moved to other goods (rare).
  perform mark_goods_changed(array(
    select goods_id from (
      (select warehouse_id, goods_id, quantity from new_rows
       except select warehouse_id, goods_id, quantity from old_rows)
      union all
      (select warehouse_id, goods_id, quantity from old_rows
       except select warehouse_id, goods_id, quantity from new_rows)) changed));
  return null;
end $$;

create trigger label_bindings_inserted after insert on label_bindings
  referencing new table as new_rows for each statement execute function goods_ref_inserted();
create trigger label_bindings_updated after update on label_bindings
  referencing old table as old_rows new table as new_rows
  for each statement execute function label_binding_updated();
create trigger label_bindings_deleted after delete on label_bindings
  referencing old table as old_rows for each statement execute function goods_ref_deleted();

create trigger stock_inserted after insert on stock
  referencing new table as new_rows for each statement execute function goods_ref_inserted();
create trigger stock_updated after update on stock
  referencing old table as old_rows new table as new_rows
  for each statement execute function stock_updated();
create trigger stock_deleted after delete on stock
  referencing old table as old_rows for each statement execute function goods_ref_deleted();

-- A shelf label's sendGoods not yet acknowledged. One row per label: the content is read when it
-- is sent, so a label that missed three changes gets one push with the newest data. `version`
-- grows at each re-queue; an acknowledgement deletes the row only if it did not grow meanwhile.
create table pending_label_pushes (
  mac text primary key,
  equip_id text not null,
  version integer not null default 1,
  tries integer not null default 0,
  last_error text,
  queued_at timestamptz not null default now()
);
create index pending_label_pushes_equip_idx on pending_label_pushes (equip_id);

-- The same for scales, one row per (scale, goods).
create table pending_scale_pushes (
  equip_id text not null,
  goods_id integer not null,
  version integer not null default 1,
  tries integer not null default 0,
  last_error text,
  queued_at timestamptz not null default now(),
  primary key (equip_id, goods_id)
);

-- Where a goods is: stock position (where the stock is kept) and goods position (the shelf place
-- to refill), each aisle (x), shelf (y), height (z) as devices see them (PROTOCOL.md §3).
-- `refill_below`: shelf quantity under which a refill job is made (null: the configured default);
-- `refill_armed` is false from a threshold job until the shelf is seen at or above it again, so
-- that every sale below the threshold does not make another job.
create table goods_positions (
  goods_id integer primary key references goods(id) on delete cascade,
  stock_x text not null default '',
  stock_y text not null default '',
  stock_z text not null default '',
  shelf_x text not null default '',
  shelf_y text not null default '',
  shelf_z text not null default '',
  refill_below numeric(14, 3) check (refill_below >= 0),
  refill_armed boolean not null default true,
  updated_at timestamptz not null default now()
);

-- A refill job for the AGVs: open until an AGV acknowledges its sendPosition.
create table refill_jobs (
  id integer generated by default as identity primary key,
  goods_id integer not null references goods(id) on delete cascade,
  reason text not null check (reason in ('manual', 'threshold')),
  state text not null default 'open' check (state in ('open', 'done', 'cancelled')),
  equip_id text,
  attempts integer not null default 0,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index refill_jobs_open_goods_key on refill_jobs (goods_id) where state = 'open';

create function refill_job_created_trigger() returns trigger language plpgsql as $$
begin
  perform pg_notify('refill_jobs', new.id::text);
  return null;
end $$;
create trigger refill_job_created after insert on refill_jobs for each row
  execute function refill_job_created_trigger();
