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

-- Whoever changes the data (the appliance, psql, the ERP) goes through here.
create function mark_goods_changed(gid integer) returns void language plpgsql as $$
begin
  insert into goods_changes (goods_id, change_no, changed_at)
  values (gid, nextval('goods_change_seq'), now())
  on conflict (goods_id) do update set change_no = excluded.change_no,
    changed_at = excluded.changed_at;
  perform pg_notify('goods_changed', gid::text);
end $$;

create function goods_changed_trigger() returns trigger language plpgsql as $$
begin
  if tg_op in ('UPDATE', 'DELETE') then
    perform mark_goods_changed(old.goods_id);
  end if;
  if tg_op in ('INSERT', 'UPDATE') and (tg_op = 'INSERT' or new.goods_id <> old.goods_id) then
    perform mark_goods_changed(new.goods_id);
  end if;
  return null;
end $$;

create function goods_row_changed_trigger() returns trigger language plpgsql as $$
begin
  perform mark_goods_changed(case when tg_op = 'DELETE' then old.id else new.id end);
  return null;
end $$;

-- Only the fields a device is sent: touching updated_at alone pushes nothing.
create trigger goods_shown_update after update on goods for each row
  when (old.name is distinct from new.name or old.barcode is distinct from new.barcode
    or old.price is distinct from new.price or old.cost is distinct from new.cost
    or old.description is distinct from new.description or old.origin is distinct from new.origin
    or old.features is distinct from new.features or old.active is distinct from new.active
    or old.category_id is distinct from new.category_id)
  execute function goods_row_changed_trigger();
create trigger goods_shown_insert after insert on goods for each row
  execute function goods_row_changed_trigger();

create trigger label_bindings_changed after insert or update or delete on label_bindings
  for each row execute function goods_changed_trigger();

create trigger stock_changed_insert_delete after insert or delete on stock
  for each row execute function goods_changed_trigger();
create trigger stock_changed_update after update on stock for each row
  when (old.quantity is distinct from new.quantity or old.goods_id <> new.goods_id)
  execute function goods_changed_trigger();

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
