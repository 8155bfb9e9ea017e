-- Where each member has signed in from (MON-2): per country, the latest sign-in's coordinates as a GeoIP database
-- placed its address (ten-thousandths of a degree and the database's accuracy radius in km, sealed with the member's
-- own key) and when. A first sign-in from a country, or one too far from the previous sign-in for the time between
-- them, is anomalous. The rows go with the member (ON DELETE CASCADE: an erasure deletes the member), with the
-- partner at offboarding, and are in the member's data export.
CREATE TABLE sign_in_places (
    partner_id   uuid NOT NULL,
    user_id      uuid NOT NULL,
    country      text NOT NULL,
    coordinates  text,
    signed_in_at timestamptz NOT NULL,
    PRIMARY KEY (partner_id, user_id, country),
    FOREIGN KEY (partner_id, user_id) REFERENCES staff (partner_id, id) ON DELETE CASCADE
);
ALTER TABLE sign_in_places ENABLE ROW LEVEL SECURITY;
ALTER TABLE sign_in_places FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sign_in_places USING (partner_id = comanda_current_tenant())
    WITH CHECK (partner_id = comanda_current_tenant());
