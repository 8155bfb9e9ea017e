-- A table taken off the floor (a broken four-top, a terrace closed for the season) is retired, never deleted: its
-- orders, bills, bookings and sales keep naming it. A retired table leaves the table directory, so its QR code stops
-- opening, and every list, the floor the booking engine reads and the label check leave it out.
ALTER TABLE venue_tables ADD COLUMN retired_at TEXT;
