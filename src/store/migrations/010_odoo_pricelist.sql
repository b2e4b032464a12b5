-- Per-store prices from an Odoo pricelist (issue 27, docs/odoo.md "Prices from a pricelist").
--
-- A pricelist's dated rules become price schedules of their own source: the connector replaces
-- them whenever the pricelist or a product changes, and a schedule made at the store ('local')
-- wins over them where both hold.
alter table price_schedules add column source text not null default 'local'
  check (source in ('local', 'odoo'));

-- What the pricelist computes a goods' price from, as Odoo last sent it: the template (rules on
-- a product), the sale price with the variant's extra (`lst_price`) and the cost. A changed rule
-- reprices every goods from these, without reading the products again.
create table odoo_price_inputs (
  goods_id integer primary key references goods(id) on delete cascade,
  template_id integer not null,
  list_price numeric not null,
  cost numeric not null
);
