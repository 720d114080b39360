-- When each detector memory last learned from an event (the event time of the batch that
-- wrote it), so housekeeping can forget memories no detector will read again: a read spike's
-- hours older than its baseline weeks are one row per principal × secret × hour of the week,
-- and a year of them is most of the detector state. Rows written before this have none and
-- are kept until an event touches them again.
ALTER TABLE detector_state ADD COLUMN seen timestamptz;
