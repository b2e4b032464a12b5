-- A price push writes one pending row a label (issue 26): what each row costs is paid a thousand
-- times before the first label hears of the change. The index on equip_id was a second index
-- entry a row; it served only look-ups by device, on a table that holds at most one row a label
-- (the primary key is the MAC), so those scan it instead (10,000 labels: about a millisecond).
-- Measured in the embedded database: the fan-out's 1,000 inserts ~12 -> ~9 ms.
drop index pending_label_pushes_equip_idx;
