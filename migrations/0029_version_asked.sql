-- Which version a value read asked for: `requestParameters.versionStage` / `versionId` of
-- `GetSecretValue`, written by ingest. A rotation's impact is judged by them: a consumer still
-- asking for `AWSPREVIOUS`, or for the version the rotation superseded, has not moved on.
ALTER TABLE events ADD COLUMN version_stage text, ADD COLUMN version_id text;

UPDATE events
SET version_stage = raw -> 'requestParameters' ->> 'versionStage',
    version_id = raw -> 'requestParameters' ->> 'versionId'
WHERE event_name = 'GetSecretValue'
  AND (raw -> 'requestParameters' ? 'versionStage' OR raw -> 'requestParameters' ? 'versionId');
