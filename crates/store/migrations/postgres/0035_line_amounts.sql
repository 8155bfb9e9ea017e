-- What each part of a split by lines was charged, a JSON array of minor units in the order of the split's items
-- (`payment::split_share`). The part that completes a line pays what the others were charged left of it; recomputing
-- their amounts from their fractions could leave or take a centavo once a part lapsed and was taken again. Payments
-- made before this version keep NULL: their parts count as their rounded fractions.
ALTER TABLE payments ADD COLUMN line_amounts text;
