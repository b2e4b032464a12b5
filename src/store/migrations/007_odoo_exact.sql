-- Odoo, exactly (issue 12).
--
-- An installation id, generated once when this database is created and never changed: it goes
-- into the references the appliance leaves in Odoo (receipt origins, sale-order client refs), so
-- that a reinstalled appliance (local ids restart at 1) or a second appliance of the same shop
-- never finds, and adopts, a record that another installation delivered.
create table installation (
  singleton boolean primary key default true check (singleton),
  id text not null default substr(replace(gen_random_uuid()::text, '-', ''), 1, 12),
  created_at timestamptz not null default now()
);
insert into installation default values;

-- Why devices may not receive into a warehouse ('' when they may): a warehouse of another Odoo
-- company than the configured user's is listed by Odoo but refuses receipts ("Incompatible
-- companies on records"), so it is not offered to devices at all.
alter table warehouses add column receipts_refused text not null default '';
