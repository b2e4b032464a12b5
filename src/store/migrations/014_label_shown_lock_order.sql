-- A goods change marks its labels stale in MAC order (issue 26). The label answers and the push
-- confirmations write label_shown in MAC order, so that statements writing the same labels at
-- once wait for each other; the trigger of 009 took its rows in whatever order its join found
-- them, and a price change made while labels were answering deadlocked on PostgreSQL (1–4 in
-- 3 s of price changes one after another against batches of 300 answers; PostgreSQL then
-- aborts one side after a second: an answer batch, or the price change). The embedded
-- database, one session, never could: it sets newretail.one_connection and skips the locking
-- (a 1,000-label price change there: ~4 ms more without the skip).
create or replace function label_shown_goods_updated() returns trigger language plpgsql as $$
begin
  if coalesce(current_setting('newretail.one_connection', true), '') <> 'on' then
    -- Every label of the goods, not only those that change: the update below takes a snapshot
    -- of its own, in which a label written meanwhile may have come to change.
    perform 1 from label_shown s where s.goods_id in (select id from new_rows)
    order by s.mac
    for update;
  end if;
  update label_shown s
  set stale_since = case when s.price = n.price and s.name = n.name then null
    else coalesce(s.stale_since, now()) end
  from new_rows n
  where n.id = s.goods_id
    and (s.stale_since is null) <> (s.price = n.price and s.name = n.name);
  return null;
end $$;
