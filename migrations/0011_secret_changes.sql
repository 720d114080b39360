-- A secret's page lists the events that changed it (new values, label moves, rotations,
-- deletion). A busy secret has millions of reads and a few hundred changes; this index
-- finds the changes without reading past the reads. The names are
-- `inventory::changes::CHANGE_EVENTS`, and the query repeats them literally so the
-- planner can use this index.
CREATE INDEX events_changing_secrets ON events (secret_arn, event_time)
    WHERE event_name IN ('CreateSecret', 'PutSecretValue', 'UpdateSecret',
        'UpdateSecretVersionStage', 'RotateSecret', 'RotationSucceeded', 'RotationFailed',
        'RotationAbandoned', 'CancelRotateSecret', 'DeleteSecret', 'RestoreSecret');
