-- A single sign-on's state is bound to the browser that started it: the digest of a random
-- value kept in a short-lived HttpOnly cookie, required at the callback, so a callback URL
-- opened in another browser (login CSRF) signs nobody in. Sign-ins under way at the upgrade
-- start again.
DELETE FROM sso_logins;
ALTER TABLE sso_logins ADD COLUMN browser_hash bytea NOT NULL;
